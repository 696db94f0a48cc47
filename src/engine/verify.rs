//! Which checksum a download's bytes must match, and telling front ends how the check went.
//! Strongest source first: the one given with the item (or by URL in the engine's book), a
//! checksum file's entry for the name the item got, then what the server's answer says
//! (`digest_header`). Depends on the engine's job, checksum, hashing, digest-header and
//! message modules.

use reqwest::StatusCode;
use reqwest::header;

use super::checksum::{Algo, ChecksumSource, ChecksumState, ChecksumView, ExpectedChecksum};
use super::digest_header;
use super::error::DownloadError;
use super::fetch_text;
use super::hashing::{self, Checked};
use super::job::{Job, PartState, Shared};
use super::messages::EngineEvent;
use super::sums::{ChecksumBook, SumsFile};
use super::sums_source;

/// The checksum known for `job` before any answer: given with it, else by its file name
/// (`name`, else the URL's last segment) in its own checksum file, else in the engine's. Its
/// own file is read or fetched the first time an item needs it; one that cannot be had fails
/// the item rather than let it go unchecked.
pub async fn known(
    shared: &Shared,
    job: &Job,
    name: &str,
) -> Result<Option<ExpectedChecksum>, DownloadError> {
    if let Some(given) = &job.checksum {
        return Ok(Some(given.clone()));
    }
    if let Some(file) = job.settings.as_ref().and_then(|s| s.checksum_file.as_ref()) {
        let sums = sums_source::load(file, &shared.client, &shared.options)
            .await
            .map_err(DownloadError::ChecksumFile)?;
        if let Some(found) = sums.for_item(name, &job.url) {
            return Ok(Some(found.clone()));
        }
    }
    Ok(shared.options.checksums.for_name(name, &job.url).cloned())
}

/// Decides the checksum `p`'s bytes must match after `response`, reports it when it changed,
/// and notes digest headers that were ignored. A server's digest from an earlier answer is kept
/// only while the bytes are continued (a `206`); a `200` is a new start and says for itself.
pub async fn expect(
    shared: &Shared,
    job: &Job,
    p: &mut PartState,
    response: &reqwest::Response,
) -> Result<(), DownloadError> {
    let headers = response.headers();
    let identity =
        headers.get(header::CONTENT_ENCODING).is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"));
    let whole = response.status() == StatusCode::OK && identity;
    let offered = digest_header::offered(headers, whole);
    for message in offered.notes {
        shared.emit(EngineEvent::Note { id: job.id, message }).await;
    }
    let continued = response.status() == StatusCode::PARTIAL_CONTENT;
    let earlier = p.checksum.clone().filter(|c| continued && c.source.is_server());
    let name = p.final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut expected = known(shared, job, &name).await?.or(offered.checksum).or(earlier);
    // Looked for once, when the file starts from its first byte; a continued one kept its own.
    if expected.is_none() && shared.options.checksum_siblings && !continued {
        expected = sibling(shared, job, response.url(), &name).await;
    }
    if expected != p.checksum {
        p.checksum = expected;
        if let Some(e) = &p.checksum {
            shared.emit(EngineEvent::Checksum { id: job.id, checksum: e.pending() }).await;
        }
    }
    Ok(())
}

/// A checksum published next to the file: `URL.sha256` (a bare digest or a `sha256sum` line),
/// then `SHA256SUMS` in the same folder, matched by name. Absent or unreadable ones are simply
/// not there: most servers have neither.
async fn sibling(shared: &Shared, job: &Job, url: &url::Url, name: &str) -> Option<ExpectedChecksum> {
    let client = &shared.client;
    let opts = &shared.options;
    let own = format!("{}.sha256", url.as_str().split(['?', '#']).next().unwrap_or_default());
    if let Ok(text) = fetch_text::get(client, opts, &own).await {
        let bare = text.split_whitespace().next().unwrap_or_default();
        let found = ExpectedChecksum::from_hex(Algo::Sha256, bare, ChecksumSource::Sibling).ok();
        if found.is_some() {
            return found;
        }
    }
    let sums = url.join("SHA256SUMS").ok()?;
    let text = fetch_text::get(client, opts, sums.as_str()).await.ok()?;
    let mut book = ChecksumBook::default();
    book.add_file(SumsFile::parse(&text, ChecksumSource::Sibling).ok()?);
    book.for_name(name, &job.url).cloned()
}

/// What a check found, as front ends show it.
pub fn view(checked: &Checked, state: ChecksumState) -> ChecksumView {
    ChecksumView { actual: Some(checked.actual.clone()), state, ..checked.expected.pending() }
}

/// Reports a passed check.
pub async fn verified(shared: &Shared, job: &Job, checked: &Checked) {
    shared.emit(EngineEvent::Checksum { id: job.id, checksum: view(checked, ChecksumState::Verified) }).await;
}

/// Reports a failed check, if `error` is one, before the item fails with it.
pub async fn report_mismatch(
    shared: &Shared,
    job: &Job,
    expected: Option<&ExpectedChecksum>,
    error: &DownloadError,
) {
    let actual = match error {
        DownloadError::ChecksumMismatch { actual, .. } | DownloadError::ExistingMismatch { actual, .. } => {
            actual
        }
        _ => return,
    };
    let Some(expected) = expected else { return };
    let checksum =
        ChecksumView { actual: Some(actual.clone()), state: ChecksumState::Mismatch, ..expected.pending() };
    shared.emit(EngineEvent::Checksum { id: job.id, checksum }).await;
}

/// With `--continue`, a complete file already there is checked before it is skipped, when a
/// checksum is known; one that does not match fails the item and is left as it is.
pub async fn check_existing(
    shared: &Shared,
    job: &Job,
    path: &std::path::Path,
    response: &reqwest::Response,
) -> Result<Option<Checked>, DownloadError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let offered = || digest_header::offered(response.headers(), response.status() == StatusCode::OK).checksum;
    let Some(expected) = known(shared, job, &name).await?.or_else(offered) else { return Ok(None) };
    shared.emit(EngineEvent::Checksum { id: job.id, checksum: expected.pending() }).await;
    let owned = path.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || hashing::check_file(&owned, expected))
        .await
        .map_err(|e| DownloadError::Internal(format!("checksum reader: {e}")))??;
    if checked.matches() {
        return Ok(Some(checked));
    }
    let error = DownloadError::ExistingMismatch {
        path: path.to_path_buf(),
        algo: checked.expected.algo,
        expected: checked.expected.hex(),
        actual: checked.actual.clone(),
    };
    report_mismatch(shared, job, Some(&checked.expected), &error).await;
    Err(error)
}
