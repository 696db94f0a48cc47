//! The loopback test server (`tests/support`) as a standalone process, for the scripts in
//! `benches/`: the same deterministic files, throttling and faults the tests use, on 127.0.0.1.
//!
//! - `bench_server [PORT]` serves plain HTTP and prints `listening on ADDR`.
//! - `bench_server --tls CA_FILE [PORT]` also serves the same routes over HTTPS (HTTP/2
//!   offered by ALPN) with a certificate made at start (rcgen), writes the CA that signed it
//!   to CA_FILE for clients to trust, and prints `listening-tls on ADDR` after the first line.
//! - `bench_server content SIZE NAME…` writes, without any HTTP, the bytes `/f/NAME?size=SIZE`
//!   serves, for each NAME one after the other, to stdout: the expected content a benchmark
//!   checks downloads against, computed by the generator itself rather than fetched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

#[path = "../tests/support/mod.rs"]
mod support;

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "content") {
        write_content(&args[1..]);
        return;
    }
    let ca_file = match args.iter().position(|a| a == "--tls") {
        Some(i) => {
            let path = args.get(i + 1).cloned().expect("--tls needs a file to write the CA to");
            args.drain(i..i + 2);
            Some(path)
        }
        None => None,
    };
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = support::TestServer::start_on(listener);
    println!("listening on {}", server.addr);
    // Kept alive for the process's life: the HTTPS server holds its own clone of the config.
    let _tls = if let Some(path) = ca_file {
        let ca = support::tls::TestCa::new();
        std::fs::write(&path, &ca.ca_pem).unwrap();
        let tls = ca.serve().await;
        println!("listening-tls on {}", tls.addr);
        Some(tls)
    } else {
        None
    };
    // Scripts read the address through a pipe: make sure it is not left in a buffer.
    std::io::stdout().flush().unwrap();
    // Serve until killed.
    std::future::pending::<()>().await;
}

/// `content SIZE NAME…`: the files' bytes, concatenated, on stdout.
fn write_content(args: &[String]) {
    let size: usize = args.first().and_then(|s| s.parse().ok()).expect("usage: content SIZE NAME…");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for name in &args[1..] {
        out.write_all(&support::content(name, size)).unwrap();
    }
    out.flush().unwrap();
}
