//! An https server on 127.0.0.1 with a self-signed certificate, for the TLS tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::PrivateKeyDer;

/// An https server on 127.0.0.1 with a fresh self-signed certificate (made by `rcgen`), that
/// answers every request with one scope named `behind-tls`. It counts the requests it answered,
/// which is only possible after a completed TLS handshake.
pub struct SelfSignedServer {
    pub url: String,
    answered: Arc<AtomicUsize>,
    certificate_directory: tempfile::TempDir,
}

const TLS_ANSWER: &str = r#"{"scopes": [{"name": "behind-tls", "backend_type": "DATABRICKS"}]}"#;

impl SelfSignedServer {
    pub fn start() -> SelfSignedServer {
        let directory = tempfile::tempdir().expect("a certificate directory");
        let (cert_path, key_path) = (
            directory.path().join("cert.pem"),
            directory.path().join("key.pem"),
        );
        // Not a CA (no basicConstraints): so that trusting the certificate itself
        // (SSL_CERT_FILE) is enough.
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("certificate parameters");
        let key_pair = rcgen::KeyPair::generate().expect("a key pair");
        let certificate = params.self_signed(&key_pair).expect("a certificate");
        std::fs::write(&cert_path, certificate.pem()).expect("certificate written");
        std::fs::write(&key_path, key_pair.serialize_pem()).expect("key written");
        let certificates = vec![certificate.der().clone()];
        let key = PrivateKeyDer::try_from(key_pair.serialize_der()).expect("key parsed");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("a server configuration");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let answered = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&answered);
        let tls = Arc::new(tls);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if answer_once(Arc::clone(&tls), stream).is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        SelfSignedServer {
            url,
            answered,
            certificate_directory: directory,
        }
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// The directory holding the certificate (`cert.pem`) and its key (`key.pem`).
    pub fn certificate_directory(&self) -> &Path {
        self.certificate_directory.path()
    }
}

/// Reads one request's head over TLS and answers [`TLS_ANSWER`], then closes.
fn answer_once(tls: Arc<rustls::ServerConfig>, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let connection = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{TLS_ANSWER}",
        TLS_ANSWER.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.conn.send_close_notify();
    stream.flush()
}
