//! The `myna-local` binary itself: it serves, and it fails with a clear message (not a panic)
//! when its port is taken or its data directory cannot be written. Its mail modes: the outbox
//! page only on loopback and only with the start-up token (a 404 otherwise), real SMTP with
//! STARTTLS (then no outbox page at all), and mail settings that cannot be safe refused.

// Tests and their helpers: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use myna_tests::smtp::{Behaviour, SmtpServer};

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
    http_get_with(addr, path, "")
}

/// A GET with extra header lines (each ending in CRLF).
fn http_get_with(addr: &str, path: &str, headers: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `myna-local`, its start-up lines (stdout and stderr), killed when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Where to connect (127.0.0.1 even when it listens on every address).
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(listen: &str, connect_port: u16, label: &str, env: &[(&str, &str)]) -> Running {
        let dir = temp_dir(label);
        let mut cmd = bin();
        cmd.args(["--listen", listen, "--data-dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for pipe in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let running = Running {
            child,
            lines,
            seen: Vec::new(),
            addr: format!("127.0.0.1:{connect_port}"),
        };
        let started = Instant::now();
        while http_get(&running.addr, "/").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        running
    }

    /// Waits (up to 10 s) for an output line containing `needle`.
    fn line_with(&mut self, needle: &str) -> Option<String> {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    }

    fn get(&self, path: &str) -> String {
        http_get(&self.addr, path).unwrap_or_default()
    }
}

fn status(response: &str) -> &str {
    response.split_whitespace().nth(1).unwrap_or("")
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
fn serves_the_product_from_env_settings() {
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
    let signup = http_get(&addr, "/signup").unwrap_or_default();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(root.starts_with("HTTP/1.1 303"), "{root}");
    assert!(
        root.contains("location: /signup"),
        "an empty install leads to sign-up: {root}"
    );
    assert!(status(&outbox).starts_with("404"), "{outbox}");
    assert!(signup.contains("お申し込み"), "{signup}");
    assert!(
        dir.join("myna.sqlite3").exists(),
        "data kept in MYNA_DATA_DIR"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outbox_page_answers_404_when_no_token_or_a_wrong_one_is_presented() {
    // Arrange
    let port = free_port();
    let server = Running::start(&format!("127.0.0.1:{port}"), port, "outbox-404", &[]);

    // Act
    let bare = server.get("/dev/outbox");
    let wrong = server.get("/dev/outbox?token=guessed");
    let cookie = http_get_with(
        &server.addr,
        "/dev/outbox",
        "Cookie: myna_outbox=guessed\r\n",
    )
    .unwrap_or_default();
    let unknown = server.get("/no-such-page");

    // Assert: the same answer as any page that does not exist.
    for answer in [&bare, &wrong, &cookie] {
        assert!(status(answer).starts_with("404"), "{answer}");
        assert!(!answer.contains("送信メール"), "{answer}");
        let body = |r: &str| r.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
        assert_eq!(
            body(answer),
            body(&unknown),
            "indistinguishable from a missing page"
        );
    }
}

#[test]
fn outbox_page_opens_with_the_start_up_token_and_drops_it_from_the_address() {
    // Arrange
    let port = free_port();
    let mut server = Running::start(&format!("127.0.0.1:{port}"), port, "outbox-token", &[]);
    let line = server
        .line_with("/dev/outbox?token=")
        .expect("token printed");
    let token = line.rsplit("token=").next().unwrap().trim().to_string();

    // Act
    let redirect = server.get(&format!("/dev/outbox?token={token}"));
    let cookie = redirect
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("cookie set")
        .to_string();
    let pair = cookie.split(';').next().unwrap();
    let page = http_get_with(&server.addr, "/dev/outbox", &format!("Cookie: {pair}\r\n"))
        .unwrap_or_default();

    // Assert
    assert!(line.contains("mail: outbox"), "{line}");
    assert!(status(&redirect).starts_with("303"), "{redirect}");
    assert!(redirect.contains("location: /dev/outbox\r\n"), "{redirect}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(status(&page).starts_with("200"), "{page}");
    assert!(page.contains("送信メール"), "{page}");
    assert!(page.contains("cache-control: no-store"), "{page}");
}

#[test]
fn outbox_page_is_not_served_when_the_listener_is_not_loopback() {
    // Arrange: every address, reached here through loopback.
    let port = free_port();
    let mut server = Running::start(&format!("0.0.0.0:{port}"), port, "outbox-open", &[]);

    // Act
    let warning = server.line_with("not a loopback address");
    let page = server.get("/dev/outbox");

    // Assert
    assert!(warning.is_some(), "start-up says why: {:?}", server.seen);
    assert!(
        !server.seen.iter().any(|l| l.contains("token=")),
        "no token printed: {:?}",
        server.seen
    );
    assert!(status(&page).starts_with("404"), "{page}");
}

#[test]
fn smtp_mode_checks_the_server_over_starttls_and_serves_no_outbox_page() {
    // Arrange
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smtp = rt.block_on(SmtpServer::start(Behaviour::default()));
    let dir = temp_dir("smtp-ca");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &smtp.ca_pem).unwrap();
    let (user, password) = Behaviour::default().login;
    let smtp_port = smtp.addr.port().to_string();
    let port = free_port();

    // Act
    let mut server = Running::start(
        &format!("127.0.0.1:{port}"),
        port,
        "smtp",
        &[
            ("MYNA_SMTP_HOST", "127.0.0.1"),
            ("MYNA_SMTP_PORT", &smtp_port),
            ("MYNA_SMTP_USER", &user),
            ("MYNA_SMTP_PASSWORD", &password),
            ("MYNA_SMTP_FROM", "マイナクラウド <no-reply@example.jp>"),
            ("MYNA_SMTP_CA_FILE", ca.to_str().unwrap()),
        ],
    );
    let mode = server.line_with("mail: SMTP");
    let answered = server.line_with("the SMTP server answered");
    let page = server.get("/dev/outbox");

    // Assert
    let mode = mode.unwrap_or_else(|| panic!("{:?}", server.seen));
    assert!(mode.contains("STARTTLS"), "{mode}");
    assert!(!mode.contains(&password), "no password printed: {mode}");
    assert!(answered.is_some(), "{:?}", server.seen);
    assert!(status(&page).starts_with("404"), "{page}");
    assert!(
        !server.seen.iter().any(|l| l.contains("token=")),
        "{:?}",
        server.seen
    );
}

fn start_failure(env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = temp_dir("mail-settings");
    let mut cmd = bin();
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn refuses_to_start_when_plain_smtp_would_cross_the_network() {
    let err = start_failure(
        &[
            ("MYNA_SMTP_HOST", "smtp.example.jp"),
            ("MYNA_SMTP_TLS", "none"),
            ("MYNA_SMTP_FROM", "no-reply@example.jp"),
        ],
        &[],
    );
    assert!(
        err.contains("only allowed for a server on this machine"),
        "{err}"
    );
}

#[test]
fn refuses_to_start_when_the_smtp_password_is_given_on_the_command_line() {
    let err = start_failure(&[], &["--smtp-password", "secret"]);
    assert!(err.contains("MYNA_SMTP_PASSWORD"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn refuses_to_start_when_an_smtp_setting_is_given_without_the_host() {
    let err = start_failure(&[("MYNA_SMTP_USER", "mailer")], &[]);
    assert!(err.contains("MYNA_SMTP_HOST"), "{err}");
}

#[test]
fn refuses_to_start_when_the_smtp_user_has_no_password() {
    let err = start_failure(
        &[],
        &[
            "--smtp-host",
            "smtp.example.jp",
            "--smtp-from",
            "no-reply@example.jp",
            "--smtp-user",
            "mailer",
        ],
    );
    assert!(err.contains("needs a password"), "{err}");
}
