//! Refreshing an expired link with the refresh command: when a transfer runs it (a `401`,
//! `403` or `410` after the item started, or a signed URL about to expire), running it with
//! the old URL in `DLM_URL`, and reading the fresh URL from its output. Messages never show a
//! URL's query (where signatures live). Depends on the engine's program runner, signed-URL
//! reader, URL checks, errors and job types.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::error::DownloadError;
use super::job::{Job, PartState, Shared};
use super::messages::EngineEvent;
use super::program::{self, NotRun, Program};
use super::signed_url;
use super::urls::{parse_download_url, redact_url, without_credentials};

/// A signed URL that expires within this margin is refreshed before the attempt rather than
/// sent to fail: a minute covers the request, redirects and clocks that are a little apart.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Characters of the command's stderr quoted in a failure message.
const STDERR_QUOTE: usize = 300;

/// Answers that say the link itself stopped working (an expired signature, a revoked token):
/// `401`, `403` and `410`.
pub fn refused_link(error: &DownloadError) -> Option<StatusCode> {
    match error {
        DownloadError::Status { status, .. } if matches!(status.as_u16(), 401 | 403 | 410) => Some(*status),
        _ => None,
    }
}

/// Whether `url` is a signed URL that expires within `EXPIRY_MARGIN` of `now` (or already did).
pub fn expires_soon(url: &Url, now: SystemTime) -> bool {
    signed_url::expiry(url).is_some_and(|at| at <= now + EXPIRY_MARGIN)
}

/// Where a transfer's link stands with the refresh command.
#[derive(Debug, Default)]
pub struct Link {
    /// The current URL came from the refresh command and no answer has shown it works yet:
    /// if it is refused too, the item fails instead of refreshing again (one try per failure).
    unproven: bool,
    /// The current URL came from the refresh command: it is not refreshed again before an
    /// attempt because it expires soon (a command that hands out short links would loop).
    from_command: bool,
}

impl Link {
    /// An answer other than a refusal came for the current URL.
    pub fn proven(&mut self) {
        self.unproven = false;
    }

    /// Whether the URL should be refreshed before the next attempt.
    pub fn refresh_before_attempt(&self, url: &Url, now: SystemTime) -> bool {
        !self.from_command && expires_soon(url, now)
    }

    /// Whether a refusal of the current URL ends the item (it was fresh from the command).
    pub fn refused_again(&self) -> bool {
        self.unproven
    }
}

/// Why no fresh link came.
pub enum NoFreshLink {
    /// The item was paused, cancelled or dlm quits; the command was killed.
    Stopped,
    Failed(DownloadError),
}

/// Runs the refresh command for `job`'s URL and, when it prints a valid one, reports the
/// fresh URL (`UrlChanged`), makes it the job's and returns. `part` names the file for the
/// command (`DLM_NAME`).
pub async fn refresh(
    shared: &Shared,
    job: &mut Job,
    program: &Program,
    part: Option<&PartState>,
    link: &mut Link,
    token: &CancellationToken,
) -> Result<(), NoFreshLink> {
    let name = part
        .and_then(|p| p.final_path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let env = [
        ("DLM_URL", without_credentials(&job.url)),
        ("DLM_NAME", name),
        // The file's own folder: a rule may have chosen it by the name (`FolderByExt`).
        (
            "DLM_DIR",
            part.and_then(|p| p.final_path.parent()).unwrap_or(&job.dir).to_string_lossy().into_owned(),
        ),
    ];
    let shown = without_query(&job.url);
    let fail = |reason: String| NoFreshLink::Failed(DownloadError::Refresh { url: shown.clone(), reason });
    let command = format!("`{}`", program.name());
    let ran = match program::run(program, &env, shared.options.refresh_timeout, token).await {
        Ok(ran) => ran,
        Err(NotRun::Stopped) => return Err(NoFreshLink::Stopped),
        Err(NotRun::TimedOut { after, stderr }) => {
            let said = quote(&stderr, &job.url, None);
            return Err(fail(format!(
                "{command} was killed after the {}s timeout{said}",
                after.as_secs_f64()
            )));
        }
        Err(e @ NotRun::Spawn(_)) => return Err(fail(format!("{command}: {e}"))),
    };
    let line = String::from_utf8_lossy(&ran.stdout)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string);
    let fresh = line.as_deref().map(parse_download_url);
    if !ran.status.success() {
        let said = quote(&ran.stderr, &job.url, fresh.as_ref().and_then(|f| f.as_ref().ok()));
        return Err(fail(format!("{command} failed ({}){said}", ran.status)));
    }
    let url = match fresh {
        None => return Err(fail(format!("{command} printed no URL{}", quote(&ran.stderr, &job.url, None)))),
        Some(Err(e)) => {
            // The error names the URL; its query may hold a signature.
            let why = match e {
                DownloadError::InvalidUrl { reason, .. } => reason,
                DownloadError::UnsupportedScheme { .. } => "not an http(s) URL".into(),
                other => other.to_string(),
            };
            return Err(fail(format!("{command} printed an unusable URL: {why}")));
        }
        Some(Ok(url)) => url,
    };
    shared
        .emit(EngineEvent::UrlChanged {
            id: job.id,
            url: without_credentials(&url),
            expires: signed_url::expiry(&url),
        })
        .await;
    job.url = url;
    *link = Link { unproven: true, from_command: true };
    Ok(())
}

/// The error for a fresh link refused as the old one was.
pub fn refused_again(status: StatusCode, url: &Url) -> DownloadError {
    DownloadError::RefreshedRefused { status, url: without_query(url) }
}

/// A URL as messages show it here: no credentials, no query, no fragment.
pub fn without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let shown = redact_url(&shown);
    if url.query().is_some() { format!("{shown}?…") } else { shown }
}

/// `: <stderr excerpt>` for a message, or nothing when the command said nothing; the URLs'
/// queries are cut out of it, in case the command echoed them.
fn quote(stderr: &[u8], old: &Url, new: Option<&Url>) -> String {
    let mut text = program::excerpt(stderr, STDERR_QUOTE);
    for url in [Some(old), new].into_iter().flatten() {
        if let Some(query) = url.query().filter(|q| !q.is_empty()) {
            text = text.replace(query, "…");
        }
    }
    if text.is_empty() { String::new() } else { format!(": {text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_401_403_and_410_mean_the_link_expired() {
        let status = |code| DownloadError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            url: "u".into(),
            retry_after: None,
        };
        for code in [401, 403, 410] {
            assert!(refused_link(&status(code)).is_some(), "{code}");
        }
        for code in [400, 404, 429, 500, 503] {
            assert!(refused_link(&status(code)).is_none(), "{code}");
        }
    }

    #[test]
    fn messages_show_no_query_and_no_credentials() {
        let url = Url::parse("https://u:pw@h.example/f.iso?X-Amz-Signature=secret#frag").unwrap();
        assert_eq!(without_query(&url), "https://***@h.example/f.iso?…");
        let said = quote(b"bad token for https://h.example/f.iso?X-Amz-Signature=secret\n", &url, None);
        assert!(!said.contains("secret"), "{said}");
    }

    #[test]
    fn a_signed_url_expiring_within_the_margin_is_refreshed_first_once() {
        let url = Url::parse("https://s3.example/k?X-Amz-Date=20240102T030405Z&X-Amz-Expires=100").unwrap();
        let signed = signed_url::expiry(&url).unwrap();
        assert!(!expires_soon(&url, signed - Duration::from_secs(61)));
        assert!(expires_soon(&url, signed - Duration::from_secs(59)));
        assert!(expires_soon(&url, signed + Duration::from_secs(3600)), "already expired");
        let mut link = Link::default();
        assert!(link.refresh_before_attempt(&url, signed));
        link = Link { unproven: true, from_command: true };
        assert!(!link.refresh_before_attempt(&url, signed), "a URL the command gave is tried as it is");
        assert!(link.refused_again());
        link.proven();
        assert!(!link.refused_again());
    }
}
