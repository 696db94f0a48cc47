//! Moving a big body off HTTP/2: a single stream whose answer came over HTTP/2 with many bytes
//! still to come asks for the same bytes again over HTTP/1.1, which costs about a third less
//! CPU per byte (`http::build_http1_client`), and drops the HTTP/2 stream (a reset frame; the
//! connection stays for other requests). Depends on reqwest and the engine's answer checks.

use reqwest::header;
use reqwest::{StatusCode, Version};
use tokio_util::sync::CancellationToken;

use super::answer::{self, BodyLength};
use super::error::answer_timeout;
use super::job::{PartState, Shared};

/// Bytes still to come below which a body stays where it is: moving costs a request and
/// perhaps a TLS handshake, a few round trips, against a third of the CPU per byte.
pub const MOVE_FROM: u64 = 16 << 20;

/// For an answer over HTTP/2 with at least `MOVE_FROM` bytes to come from `from` on: the same
/// bytes over HTTP/1.1, a range with `If-Range`. `None` when the move is not worth it or the
/// server did not answer with exactly that range of the same version; the caller then reads
/// the HTTP/2 answer as if nothing happened.
pub async fn over_http1(
    shared: &Shared,
    part: &PartState,
    response: &reqwest::Response,
    from: u64,
    token: &CancellationToken,
) -> Option<reqwest::Response> {
    let total = part.total?;
    let worth = response.version() == Version::HTTP_2
        && part.resumable
        && !part.ranges_unreliable
        && total.saturating_sub(from) >= MOVE_FROM;
    if !worth {
        return None;
    }
    let mut request =
        shared.http1().get(response.url().clone()).header(header::RANGE, format!("bytes={from}-"));
    if let Some(validator) = &part.validator {
        request = request.header(header::IF_RANGE, validator);
    }
    let opts = &shared.options;
    let moved = tokio::select! {
        () = token.cancelled() => return None,
        () = tokio::time::sleep(answer_timeout(opts.connect_timeout, opts.read_timeout)) => return None,
        r = request.send() => r.ok()?,
    };
    let exact = moved.status() == StatusCode::PARTIAL_CONTENT
        && answer::body_length(moved.headers(), "").is_ok_and(|l| l == BodyLength::AsFramed)
        && answer::is_range_of(moved.headers(), (from, total - 1), total, part.validator.as_deref());
    exact.then_some(moved)
}
