//! Every response of the running `myna-local` carries the security headers, the routes that
//! stand outside the session layer (the `/uploads/<ticket>` stand-in for S3) included.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn request(addr: &str, head: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out.to_ascii_lowercase())
}

#[test]
fn upload_answers_carry_the_security_headers() {
    // Arrange: the local product on a free port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("myna-headers-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_myna-local"))
        .args(["--listen", &addr, "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Act: a PUT with a ticket that is no ticket.
    let put = request(
        &addr,
        &format!(
            "PUT /uploads/not-a-ticket HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/png\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\nabcd"
        ),
    )
    .unwrap_or_default();
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    // Assert
    assert!(put.starts_with("http/1.1 403"), "{put}");
    for header in [
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "cache-control: no-store",
        "referrer-policy: no-referrer",
        "content-security-policy: default-src 'none'",
    ] {
        assert!(put.contains(header), "{header} missing: {put}");
    }
}
