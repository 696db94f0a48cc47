//! Telling whether a client has closed a connection, as a server that limits connections per
//! client must. hyper notices only when its next write fails, which for a throttled body can
//! be a tick later, so a count of bodies in flight would still include a connection the client
//! has already given up. The listener keeps a second handle (a `dup`) to every socket it
//! accepts, and `Conn::is_closed` peeks at it, without reading anything hyper should read, for
//! the client's FIN or RST. Test-only code.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// One accepted connection, as the handler sees it (`ConnectInfo<Conn>`).
#[derive(Clone, Debug)]
pub struct Conn(Arc<std::net::TcpStream>);

impl Conn {
    /// Whether the client has closed the connection. A client waiting for an HTTP/1.1 answer
    /// sends nothing, so data waiting to be read means it is still there.
    pub fn is_closed(&self) -> bool {
        match self.0.peek(&mut [0]) {
            Ok(n) => n == 0,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
        }
    }
}

/// The test server's TCP listener: hands every connection's `Conn` to its requests.
pub struct WatchedListener(pub TcpListener);

/// A connection as hyper uses it, with the `Conn` its requests get.
pub struct WatchedStream {
    stream: TcpStream,
    conn: Conn,
}

impl axum::serve::Listener for WatchedListener {
    type Io = WatchedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.0.accept().await else { continue };
            if let Some(stream) = with_second_handle(stream) {
                return (stream, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The stream for hyper and a `dup` of its socket to peek at. The duplicate shares the
/// socket's non-blocking mode, so a peek never waits.
fn with_second_handle(stream: TcpStream) -> Option<WatchedStream> {
    let std = stream.into_std().ok()?;
    let dup = std.try_clone().ok()?;
    Some(WatchedStream { stream: TcpStream::from_std(std).ok()?, conn: Conn(Arc::new(dup)) })
}

impl Connected<IncomingStream<'_, WatchedListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, WatchedListener>) -> Self {
        stream.io().conn.clone()
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
