//! An https server on 127.0.0.1 with a self-signed certificate, for the TLS tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// An https server on 127.0.0.1 with a fresh self-signed certificate (made by `openssl`), that
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
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            // Not a CA: so that trusting the certificate itself (SSL_CERT_FILE) is enough.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl made a certificate");
        let certificates = CertificateDer::pem_file_iter(&cert_path)
            .expect("certificate readable")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate parsed");
        let key = PrivateKeyDer::from_pem_file(&key_path).expect("key parsed");
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
