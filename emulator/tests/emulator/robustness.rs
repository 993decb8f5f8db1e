//! Hostile input and load: the server keeps answering correctly.

use crate::Api;
use databricks_emulator::{Config, Emulator};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends raw bytes on a fresh connection and returns whatever comes back before it closes.
fn raw_exchange(emulator: &Emulator, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn garbage_over_tcp_does_not_hurt_the_server() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    let garbage: [&[u8]; 6] = [
        b"\x00\xff\xfe garbage \r\n\r\n",
        b"GET /api/2.0/secrets/scopes/list HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/2.0/secrets/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sco",
        b"POST /api/2.0/secrets/put HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"",
    ];
    for bytes in garbage {
        let answer = raw_exchange(&emulator, bytes);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer:?}"
        );
    }
    let token = emulator.admin_token();
    let mut request = format!(
        "POST /api/2.0/secrets/put HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 6\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(b"\xff{\x00\"}\xfe");
    let answer = raw_exchange(&emulator, &request);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("MALFORMED_REQUEST"), "{answer}");

    api.put_string("s", "k", "still fine")
        .await
        .assert_empty_ok();
    assert_eq!(emulator.secret_bytes("s", "k").unwrap(), b"still fine");
}

#[tokio::test]
async fn non_utf8_and_huge_bodies_get_json_errors_and_service_continues() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("s").await.assert_empty_ok();
    let non_utf8 = b"{\"scope\":\"s\",\"key\":\"k\",\"string_value\":\"\xff\xfe\"}".to_vec();
    api.send("POST", "/api/2.0/secrets/put", Some(non_utf8))
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    let huge = vec![b'{'; 3 << 20];
    api.send("POST", "/api/2.0/secrets/put", Some(huge))
        .await
        .assert_error(413, "BAD_REQUEST");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    api.send("POST", "/api/2.0/secrets/put", Some(deep.into_bytes()))
        .await
        .assert_error(400, "MALFORMED_REQUEST");
    api.put_string("s", "k", "v").await.assert_empty_ok();
    api.list_secrets("s").await.assert_ok();
}

#[tokio::test]
async fn many_concurrent_clients_with_keep_alive() {
    const CLIENTS: usize = 12;
    const REQUESTS: usize = 15;
    let emulator = Emulator::start(Config::default()).unwrap();
    let api = Api::admin(&emulator);
    api.create_scope("load").await.assert_empty_ok();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let api = Api::admin(&emulator); // its own connection pool
        tasks.push(tokio::spawn(async move {
            for request in 0..REQUESTS {
                let key = format!("c{client}-r{request}");
                api.put_string("load", &key, &key).await.assert_empty_ok();
                let got = api.get_secret("load", &key).await.assert_ok();
                assert!(got["value"].is_string());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let listed = api.list_secrets("load").await.assert_ok();
    assert_eq!(
        listed["secrets"].as_array().unwrap().len(),
        CLIENTS * REQUESTS
    );
    assert_eq!(emulator.secret_bytes("load", "c7-r9").unwrap(), b"c7-r9");
    assert!(
        emulator
            .requests()
            .iter()
            .all(|request| request.status == Some(200))
    );
}

#[test]
fn works_from_a_plain_test_and_stops_on_drop() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let addr = emulator.addr();
    assert!(
        TcpStream::connect(addr).is_ok(),
        "listening once start returns"
    );
    let raw = raw_exchange(
        &emulator,
        format!(
            "GET /api/2.0/secrets/scopes/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            emulator.admin_token()
        )
        .as_bytes(),
    );
    assert!(
        raw.starts_with("HTTP/1.1 200") && raw.ends_with("{}"),
        "{raw}"
    );
    drop(emulator);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_stop_inside_a_multi_threaded_runtime() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let url = emulator.url();
    Api::admin(&emulator).list_scopes().await.assert_empty_ok();
    emulator.stop();
    let error = Api::for_url(&url, None)
        .try_send("GET", "/api/2.0/secrets/scopes/list", None)
        .await
        .unwrap_err();
    assert!(error.is_connect(), "{error}");
}
