//! A `dlm add` from another shell made into add requests: each URL with the checksum given
//! for it, the add's checksum file as the items' own, or a pasted curl command as one item with
//! its headers, cookies and login. Checksum files are kept by source, so one named by many
//! adds in a session is fetched once. Depends on the control socket's request types, `curl`
//! and the engine's request, checksum and settings types.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::control::{AddUrl, CurlText};
use crate::engine::{AddRequest, ChecksumFile, ChecksumSource, ExpectedChecksum, ItemSettings};

/// The checksum files named by adds in this session, by URL.
#[derive(Debug, Default)]
pub struct ChecksumFiles(HashMap<String, Arc<ChecksumFile>>);

impl ChecksumFiles {
    /// The file for `source`: one per URL for the whole session (fetched once, however many
    /// adds name it); a local file is read again for each add, so an edited one is seen.
    pub fn get(&mut self, source: &str) -> Arc<ChecksumFile> {
        if !crate::engine::is_url(source) {
            return Arc::new(ChecksumFile::new(source));
        }
        Arc::clone(self.0.entry(source.to_string()).or_insert_with(|| Arc::new(ChecksumFile::new(source))))
    }
}

/// One add's requests, and notices for the person who sent it (a curl command's ignored
/// `-k`). Nothing is added when any part is wrong: the error says which (never a secret).
pub fn requests(
    urls: &[AddUrl],
    dir: Option<&PathBuf>,
    checksum_file: Option<Arc<ChecksumFile>>,
    curl: Option<&CurlText>,
) -> Result<(Vec<AddRequest>, Vec<String>), String> {
    let mut notices = Vec::new();
    let mut requests = Vec::with_capacity(urls.len().max(1));
    if let Some(CurlText(text)) = curl {
        let command = crate::curl::parse(text).map_err(|e| e.to_string())?;
        if command.insecure {
            notices.push(crate::curl::INSECURE_IGNORED.to_string());
        }
        let mut request = command.to_add_request()?;
        if let Some(file) = &checksum_file {
            let mut settings = request.settings.map(Arc::unwrap_or_clone).unwrap_or_default();
            settings.checksum_file = Some(Arc::clone(file));
            request.settings = Some(Arc::new(settings));
        }
        request.dir = dir.cloned();
        requests.push(request);
    }
    let own = checksum_file.map(|file| {
        let mut settings = ItemSettings::default();
        settings.checksum_file = Some(file);
        Arc::new(settings)
    });
    for AddUrl { url, checksum, listed } in urls {
        let source = if *listed { ChecksumSource::List } else { ChecksumSource::User };
        let checksum = checksum
            .as_deref()
            .map(|text| ExpectedChecksum::parse(text, source))
            .transpose()
            .map_err(|e| format!("{}: {e}", crate::engine::redact_str(url)))?;
        requests.push(AddRequest {
            dir: dir.cloned(),
            checksum,
            settings: own.clone(),
            ..AddRequest::new(url.clone())
        });
    }
    Ok((requests, notices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_go_with_their_urls_and_a_bad_one_refuses_the_add() {
        let hex = "d41d8cd98f00b204e9800998ecf8427e";
        let urls = [
            AddUrl { checksum: Some(format!("md5={hex}")), listed: true, ..AddUrl::new("http://h/a") },
            "http://h/b".into(),
        ];
        let mut files = ChecksumFiles::default();
        assert!(Arc::ptr_eq(&files.get("http://h/S"), &files.get("http://h/S")), "one per URL");
        let file = files.get("/S");
        assert!(!Arc::ptr_eq(&file, &files.get("/S")), "a local file is read again for each add");
        let (r, notices) = requests(&urls, None, Some(file), None).unwrap();
        assert!(notices.is_empty());
        assert_eq!(r[0].checksum.as_ref().unwrap().hex(), hex);
        assert_eq!(r[0].checksum.as_ref().unwrap().source, ChecksumSource::List, "a list line says so");
        assert!(r[1].checksum.is_none());
        assert!(r.iter().all(|r| r.settings.as_ref().unwrap().checksum_file.is_some()));
        let bad = [AddUrl { checksum: Some("md5=xyz".into()), ..AddUrl::new("http://u:pw@h/a") }];
        let err = requests(&bad, None, None, None).unwrap_err();
        assert!(err.starts_with("http://") && !err.contains(":pw@"), "{err}");
    }

    #[test]
    fn a_curl_command_is_one_item_with_its_settings_and_k_is_a_notice() {
        let curl = CurlText("curl 'http://h/f.iso' -H 'X-Token: SECRET' -b 'sid=1' -k".into());
        let (r, notices) = requests(&[], Some(&"/dl".into()), None, Some(&curl)).unwrap();
        assert_eq!(
            (r.len(), r[0].url.as_str(), r[0].dir.as_deref()),
            (1, "http://h/f.iso", Some("/dl".as_ref()))
        );
        assert_eq!(r[0].settings.as_ref().unwrap().headers().len(), 1);
        assert_eq!(notices, [crate::curl::INSECURE_IGNORED]);
        let err = requests(&[], None, None, Some(&CurlText("curl -X POST -H 'A: SECRET' http://h/".into())))
            .unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
    }
}
