//! HTTPS for the test server: a CA and a leaf certificate for 127.0.0.1 made fresh in each
//! test with rcgen, and an axum listener that does the TLS handshake (rustls, ring) before
//! handing the stream to the same routes as plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

use super::TestServer;

/// A test certificate authority and the PEM a client must trust to accept the server.
pub struct TestCa {
    pub ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A new CA and a server certificate it signed for `127.0.0.1` and `localhost`.
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "dlm test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        // Offer HTTP/2 as real HTTPS servers do; the client picks it through ALPN.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self { ca_pem: ca.pem(), config: Arc::new(config) }
    }

    /// Starts the test server's routes over HTTPS with this CA's certificate.
    pub async fn serve(&self) -> TestServer {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        TestServer::serve(TlsListener { tcp, acceptor: TlsAcceptor::from(Arc::clone(&self.config)) }, addr)
    }
}

impl TestServer {
    pub fn https_url(&self, path_and_query: &str) -> String {
        format!("https://{}{}", self.addr, path_and_query)
    }
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else { continue };
            // A client that rejects the certificate aborts the handshake: wait for the next one.
            // The deadline keeps a silent client from blocking the accept loop.
            let handshake = tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(stream));
            if let Ok(Ok(tls)) = handshake.await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
