//! A minimal HTTP/1.1 file server on 127.0.0.1:0 for this branch's tests (std threads, real
//! sockets): serves one body for every path, with an ETag, `Range`/`If-Range` support and a
//! record of the requests it saw. The fuller shared server lives in `tests/support/` on main.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub const ETAG: &str = "\"v1\"";

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

pub struct Server {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

pub fn serve(body: Vec<u8>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            let body = Arc::clone(&body);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let mut req = Request::default();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                req.path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                    match name.trim().to_ascii_lowercase().as_str() {
                        "range" => req.range = Some(value.trim().to_string()),
                        "if-range" => req.if_range = Some(value.trim().to_string()),
                        _ => {}
                    }
                }
                seen.lock().unwrap().push(req.clone());
                let start = req
                    .range
                    .as_deref()
                    .filter(|_| req.if_range.as_deref().is_none_or(|v| v == ETAG))
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse::<usize>().ok())
                    .filter(|s| *s < body.len());
                let len = body.len();
                let head = match start {
                    Some(s) => format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {s}-{}/{len}\r\n",
                        len - s,
                        len - 1
                    ),
                    None => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n"),
                };
                let head = format!("{head}ETag: {ETAG}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body[start.unwrap_or(0)..]);
            });
        }
    });
    Server { base, requests }
}
