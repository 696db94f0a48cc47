//! `dlm add`: URLs (with the checksums given for them, a checksum file, or one "Copy as
//! cURL" command) to the running dlm through the control socket, or to the saved queue when
//! none runs. Everything is checked here first, so a mistake is said in this shell and nothing
//! is added. Depends on `control`, `state`, `curl`, the config's rules and the engine's URL,
//! checksum and checksum-file helpers.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Rules;
use crate::control::{AddExtras, AddUrl, CurlText};
use crate::engine::{
    ChecksumSource, EngineOptions, ExpectedChecksum, SumsFile, is_url, load_sums, parse_download_url,
    redact_str,
};
use crate::headless::Input;
use crate::output;
use crate::state::{NewItem, StateStore};

use super::{Reached, reach};

/// What `dlm add` was given besides its URLs.
#[derive(Debug, Default)]
pub struct AddOptions {
    /// `-o DIR`: chosen, so it wins over a rule's `dir`.
    pub dir: Option<PathBuf>,
    /// The config's `download_dir`; without one, the shell's folder. Only a default: a
    /// matched rule's `dir` wins over it.
    pub default_dir: Option<PathBuf>,
    /// `--checksum ALGO=HEX`, for the one URL.
    pub checksum: Option<ExpectedChecksum>,
    /// Checksums from `URL ALGO=HEX` lines of the `-i` list.
    pub listed: Vec<(String, ExpectedChecksum)>,
    /// `--checksum-file FILE|URL`.
    pub checksum_file: Option<String>,
    /// `--curl 'curl …'`: one download with the command's headers, cookies and login.
    pub curl: Option<String>,
    /// The config's choice to keep `user:password@` in the saved queue.
    pub save_credentials: bool,
    /// The config's `[[rule]]`s, for the folder of items saved while no dlm runs.
    pub rules: Rules,
    /// The config's client settings, to fetch a checksum file given as a URL.
    pub engine: EngineOptions,
}

/// Adds `inputs` to the running dlm or the saved queue; prints what happened on `out`.
/// Invalid URLs are reported with their origin and skipped; the exit status is then 1.
/// Without `-o` the items go to the config's `download_dir`, else the folder this command
/// runs in (like `dlm get`), unless a rule says otherwise. Folders are sent and saved
/// absolute, so they mean the same to a dlm running (or started later) in another folder.
pub async fn add(inputs: Vec<Input>, options: AddOptions, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if let Some(curl) = &options.curl {
        if !inputs.is_empty() {
            anyhow::bail!("--curl adds the one download of the command; give other URLs in another dlm add");
        }
        return add_curl(curl, options.dir, options.default_dir, out).await;
    }
    if inputs.is_empty() {
        anyhow::bail!(
            "no URLs given (pass URLs as arguments, -i FILE or --curl 'curl …'; see dlm add --help)"
        );
    }
    if options.checksum.is_some() && inputs.len() != 1 {
        anyhow::bail!(
            "--checksum is for one URL, {} were given; for several, put `URL sha256=HEX` lines in a list \
             (-i FILE) or use --checksum-file",
            inputs.len()
        );
    }
    let mut given: HashMap<String, ExpectedChecksum> = options.listed.into_iter().collect();
    if let (Some(checksum), [input]) = (options.checksum, inputs.as_slice()) {
        given.insert(input.url.clone(), checksum);
    }
    let mut urls = Vec::new();
    let mut invalid = 0;
    for input in inputs {
        match parse_download_url(&input.url) {
            Ok(_) => {
                let checksum = given.get(&input.url).cloned();
                urls.push((input.url, checksum));
            }
            Err(e) => {
                output::err_line(&format!("dlm: {}: {e}", input.origin));
                invalid += 1;
            }
        }
    }
    // Read (or fetched) now, so a file that cannot be used is said here and nothing is added.
    let sums = match &options.checksum_file {
        Some(source) => Some(checksum_file(source, &options.engine).await?),
        None => None,
    };
    let (dir, dir_is_default) = match options.dir {
        Some(dir) => (absolute(&dir)?, false),
        None => (default_folder(options.default_dir)?, true),
    };
    if !urls.is_empty() {
        let count = urls.len();
        let save_credentials = options.save_credentials;
        let store = || -> anyhow::Result<StateStore> {
            Ok(StateStore::from_env()?.saving_credentials(save_credentials))
        };
        match reach(store).await? {
            Reached::Running(mut client) => {
                let urls = urls
                    .into_iter()
                    .map(|(url, c)| AddUrl {
                        listed: c.as_ref().is_some_and(|c| c.source == ChecksumSource::List),
                        checksum: c.map(|c| format!("{}={}", c.algo, c.hex())),
                        url,
                    })
                    .collect();
                let checksum_file = sums.map(|(source, _)| source);
                let extras = AddExtras { dir_is_default, checksum_file, curl: None };
                client.add(urls, Some(dir), extras).await?;
                writeln!(out, "added {count} to the running dlm")?;
            }
            Reached::Saved(store, _lock) => {
                let items = urls
                    .into_iter()
                    .map(|(url, checksum)| {
                        let folder = if dir_is_default { rule_dir(&options.rules, &url, &dir) } else { None };
                        // A checksum file is matched by the URL's last segment here: the name
                        // the server gives is not known until the download starts.
                        let listed = || {
                            let parsed = url::Url::parse(url.trim()).ok()?;
                            sums.as_ref()?.1.for_url(&parsed).cloned()
                        };
                        let checksum = checksum.or_else(listed).map(|c| c.pending());
                        NewItem { dir: Some(folder.unwrap_or_else(|| dir.clone())), url, checksum }
                    })
                    .collect();
                let loaded = store.append_new(items)?;
                if let Some(notice) = loaded.notice {
                    output::err_line(&format!("dlm: {notice}"));
                }
                writeln!(
                    out,
                    "dlm is not running: added {count} to the saved queue ({}); they start the next \
                     time dlm opens",
                    store.queue_path().display()
                )?;
            }
        }
    }
    Ok(if invalid > 0 { ExitCode::from(crate::headless::EXIT_FAILED) } else { ExitCode::SUCCESS })
}

/// `dlm add --curl`: checked here, sent to the running dlm with the command itself (the socket
/// is owner-only). Never saved: its cookies and passwords must not be written to disk, and
/// the saved queue could only keep the bare URL, which would then fail without them.
async fn add_curl(
    text: &str,
    dir: Option<PathBuf>,
    default_dir: Option<PathBuf>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let command = crate::curl::parse(text).map_err(|e| anyhow::anyhow!("--curl: {e}"))?;
    command.to_add_request().map_err(|e| anyhow::anyhow!("--curl: {e}"))?;
    if command.insecure {
        output::err_line(&format!("dlm: {}", crate::curl::INSECURE_IGNORED));
    }
    let (dir, dir_is_default) = match dir {
        Some(dir) => (absolute(&dir)?, false),
        None => (default_folder(default_dir)?, true),
    };
    match reach(|| Ok(StateStore::from_env()?)).await? {
        Reached::Running(mut client) => {
            let extras =
                AddExtras { dir_is_default, checksum_file: None, curl: Some(CurlText(text.to_string())) };
            client.add(Vec::new(), Some(dir), extras).await?;
            writeln!(out, "added 1 to the running dlm (with the curl command's headers and cookies)")?;
            Ok(ExitCode::SUCCESS)
        }
        Reached::Saved(..) => anyhow::bail!(
            "dlm is not running, and a curl command is never saved to the queue (its cookies and \
             passwords stay in memory): start dlm, then run this again"
        ),
    }
}

/// The checksum file as the running dlm should name it (a URL, or this path made absolute),
/// read or fetched and parsed.
async fn checksum_file(source: &str, engine: &EngineOptions) -> anyhow::Result<(String, SumsFile)> {
    let source = if is_url(source) {
        source.trim().to_string()
    } else {
        absolute(Path::new(source))?.to_string_lossy().into_owned()
    };
    let sums = load_sums(&source, None, engine).await.map_err(anyhow::Error::msg)?;
    Ok((source, sums))
}

/// A matched rule's folder for `url` (a relative one inside `base`), made now as the running
/// dlm would make it; `None` when no rule with a `dir` matches.
fn rule_dir(rules: &Rules, url: &str, base: &Path) -> Option<PathBuf> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let dir = base.join(rules.matching(&parsed, None)?.rule.dir.as_ref()?);
    // If it cannot be made, the item says why when it starts.
    let _ = std::fs::create_dir_all(&dir);
    Some(dir)
}

/// The config's download folder, else this shell's, absolute.
fn default_folder(configured: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match configured {
        Some(d) => absolute(&d),
        None => std::env::current_dir().context("cannot tell which folder this shell is in"),
    }
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(dir).with_context(|| format!("bad folder {}", redact_str(&dir.display().to_string())))
}
