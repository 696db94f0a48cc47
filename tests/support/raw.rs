//! A scripted TCP server for answers a well-behaved HTTP library will not produce: more body
//! bytes than `Content-Length`, a chunked body that stops mid-chunk, a `206` whose
//! `Content-Range` is for another file. Each connection reads one request head, asks the
//! script what to answer (by connection number, counting from 1) and then closes or hangs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server does after writing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Close,
    /// Keep the connection open and send nothing more (a stall).
    Hang,
}

pub struct RawServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    /// The request heads received, in order.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    /// Starts a server whose `script(n, request_head)` gives the bytes for connection `n`.
    pub async fn start<F>(script: F) -> Self
    where
        F: Fn(usize, &str) -> (Vec<u8>, Then) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let (count, seen) = (Arc::clone(&connections), Arc::clone(&heads));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let (script, seen) = (Arc::clone(&script), Arc::clone(&seen));
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => head.extend_from_slice(&buf[..k]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    seen.lock().unwrap().push(head.clone());
                    let (bytes, then) = script(n, &head);
                    let _ = socket.write_all(&bytes).await;
                    let _ = socket.flush().await;
                    if then == Then::Hang {
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        Self { addr, connections, heads }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A response head with `Connection: close`, so the client never reuses a scripted socket.
pub fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The `Range: bytes=N-` start a request asked for, if any.
pub fn range_start(head: &str) -> Option<u64> {
    head.lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("range: bytes=").map(str::to_string))
        .and_then(|r| r.split('-').next().and_then(|s| s.trim().parse().ok()))
}

/// One chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A server for `full` (ETag `"same"`) whose first answer is a `200` cut after `cut` bytes;
/// ranged requests then get `partial(start)` as their whole answer, other requests the whole
/// file. For testing what a resume does with a `206` that does not fit.
pub async fn cut_then_ranged<F>(full: Vec<u8>, cut: usize, partial: F) -> RawServer
where
    F: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
{
    RawServer::start(move |n, req| {
        let whole = |body: &[u8]| {
            let headers = [("Content-Length", full.len().to_string()), ("ETag", "\"same\"".to_string())];
            let mut out = head("200 OK", &headers);
            out.extend_from_slice(body);
            out
        };
        match (n, range_start(req)) {
            (1, _) => (whole(&full[..cut]), Then::Close),
            (_, Some(start)) => (partial(start), Then::Close),
            (_, None) => (whole(&full), Then::Close),
        }
    })
    .await
}
