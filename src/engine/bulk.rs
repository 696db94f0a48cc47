//! Moving a big body off HTTP/2: a single stream whose answer came over HTTP/2 with many bytes
//! still to come asks for the same bytes again over HTTP/1.1, which costs about a third less
//! CPU per byte (`http::build_http1_client`), and drops the HTTP/2 stream (a reset frame; the
//! connection stays for other requests). Depends on reqwest and the engine's request and
//! answer checks.

use reqwest::Version;
use tokio_util::sync::CancellationToken;

use super::answer::{self, BodyLength, Verdict};
use super::job::{Job, PartState, Shared};
use super::request::{self, Asked};

/// Bytes still to come below which a body stays where it is: moving costs a request and
/// perhaps a TLS handshake, a few round trips, against a third of the CPU per byte.
pub const MOVE_FROM: u64 = 16 << 20;

/// For an answer over HTTP/2 with at least `MOVE_FROM` bytes to come from `from` on: the same
/// bytes over HTTP/1.1, a range with `If-Range`. `None` when the move is not worth it or the
/// server did not answer with exactly that range of the same version; the caller then reads
/// the HTTP/2 answer as if nothing happened.
pub async fn over_http1(
    shared: &Shared,
    job: &Job,
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
    let asked = Asked { range: Some((from, None)), validator: part.validator.as_deref(), total: Some(total) };
    let moved = request::send(shared, job, response.url(), &asked, token).await.ok()?;
    // `request::send` asks ranges over HTTP/1.1; only exactly that range of the same version
    // may replace the answer in hand.
    let exact =
        matches!(answer::classify(&moved, &asked), Verdict::Range { length: BodyLength::AsFramed, .. });
    exact.then_some(moved)
}
