//! Two small proxies for tests, each recording that it was used: an HTTP forward proxy
//! (absolute-URI requests, plus CONNECT for HTTPS) and a SOCKS5 proxy (CONNECT, with or
//! without username/password). Both tunnel bytes with `copy_bidirectional`; test-only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a proxy saw: one line per request or tunnel, and any credentials it was given.
#[derive(Default)]
pub struct Seen {
    pub requests: Mutex<Vec<String>>,
    pub credentials: Mutex<Vec<String>>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Proxy {
    pub fn requests(&self) -> Vec<String> {
        self.seen.requests.lock().unwrap().clone()
    }

    pub fn credentials(&self) -> Vec<String> {
        self.seen.credentials.lock().unwrap().clone()
    }

    /// An HTTP proxy: `GET http://host/path HTTP/1.1` is sent on to host as `GET /path`, and
    /// `CONNECT host:port` opens a tunnel.
    pub async fn http() -> Self {
        Self::start(|socket, seen| async move {
            let _ = http_proxy_conn(socket, seen).await;
        })
        .await
    }

    /// A SOCKS5 proxy (RFC 1928, CONNECT only; RFC 1929 username/password when offered).
    pub async fn socks5() -> Self {
        Self::start(|socket, seen| async move {
            let _ = socks5_conn(socket, seen).await;
        })
        .await
    }

    async fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(TcpStream, Arc<Seen>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&shared)));
            }
        });
        Self { addr, seen }
    }
}

async fn read_head(socket: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(at + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        let n = socket.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn http_proxy_conn(mut client: TcpStream, seen: Arc<Seen>) -> std::io::Result<()> {
    {
        let (head, rest) = read_head(&mut client).await?;
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or("").to_string();
        let mut parts = first.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        seen.requests.lock().unwrap().push(format!("{method} {target}"));
        let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        for h in &headers {
            if let Some(v) =
                h.strip_prefix("Proxy-Authorization: ").or_else(|| h.strip_prefix("proxy-authorization: "))
            {
                seen.credentials.lock().unwrap().push(v.to_string());
            }
        }
        if method == "CONNECT" {
            let mut upstream = TcpStream::connect(target).await?;
            client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
            upstream.write_all(&rest).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
            return Ok(());
        }
        let url = url::Url::parse(target).map_err(std::io::Error::other)?;
        let host = format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(80));
        let mut upstream = TcpStream::connect(&host).await?;
        let path = &url[url::Position::BeforePath..];
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        for h in headers.iter().filter(|h| !h.to_ascii_lowercase().starts_with("proxy-")) {
            out.push_str(h);
            out.push_str("\r\n");
        }
        // One request per upstream connection keeps this proxy simple: the answer ends when
        // the server closes.
        out.push_str("Connection: close\r\n\r\n");
        upstream.write_all(out.as_bytes()).await?;
        upstream.write_all(&rest).await?;
        let mut answer = Vec::new();
        upstream.read_to_end(&mut answer).await?;
        // The client may keep its connection to the proxy; tell it this one is done.
        client.write_all(&answer).await?;
        client.shutdown().await?;
        Ok(())
    }
}

async fn socks5_conn(mut client: TcpStream, seen: Arc<Seen>) -> std::io::Result<()> {
    let mut hello = [0u8; 2];
    client.read_exact(&mut hello).await?;
    let mut methods = vec![0u8; usize::from(hello[1])];
    client.read_exact(&mut methods).await?;
    if methods.contains(&2) {
        client.write_all(&[5, 2]).await?;
        let mut ver_ulen = [0u8; 2];
        client.read_exact(&mut ver_ulen).await?;
        let mut user = vec![0u8; usize::from(ver_ulen[1])];
        client.read_exact(&mut user).await?;
        let mut plen = [0u8; 1];
        client.read_exact(&mut plen).await?;
        let mut pass = vec![0u8; usize::from(plen[0])];
        client.read_exact(&mut pass).await?;
        seen.credentials.lock().unwrap().push(format!(
            "{}:{}",
            String::from_utf8_lossy(&user),
            String::from_utf8_lossy(&pass)
        ));
        client.write_all(&[1, 0]).await?;
    } else {
        client.write_all(&[5, 0]).await?;
    }
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Err(std::io::Error::other("address type not supported by this test proxy")),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    seen.requests.lock().unwrap().push(format!("CONNECT {target}"));
    let mut upstream = TcpStream::connect(&target).await?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
