//! The `myna-local` binary itself: it serves, and it fails with a clear message (not a panic)
//! when its port is taken or its data directory cannot be written.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_myna-local"))
}

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("myna-cli-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn refuses_a_taken_port_with_a_clear_message() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = temp_dir("port");
    let out = bin()
        .args(["--listen", &addr, "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn refuses_an_unwritable_data_dir_with_a_clear_message() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = bin()
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not writable"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn serves_the_product_and_the_outbox_from_env_settings() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = temp_dir("serve");
    let mut child = bin()
        .env("MYNA_LISTEN", &addr)
        .env("MYNA_DATA_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let root = loop {
        if let Some(r) = http_get(&addr, "/") {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let outbox = http_get(&addr, "/dev/outbox").unwrap_or_default();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(root.starts_with("HTTP/1.1 303"), "{root}");
    assert!(
        root.contains("location: /signup"),
        "an empty install leads to sign-up: {root}"
    );
    assert!(outbox.contains("送信メール"), "{outbox}");
    assert!(
        dir.join("myna.sqlite3").exists(),
        "data kept in MYNA_DATA_DIR"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
