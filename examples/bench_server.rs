//! The loopback test server (`tests/support`) as a standalone process, for `benches/loopback.sh`:
//! the same deterministic files, throttling and faults the tests use, on 127.0.0.1.
//! Usage: `cargo run --release --example bench_server [PORT]`; prints `listening on ADDR`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = support::TestServer::start_on(listener);
    println!("listening on {}", server.addr);
    // Serve until killed.
    std::future::pending::<()>().await;
}
