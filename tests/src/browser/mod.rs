//! Support for the real-browser journeys (`tests/browser`, run by `infra/test.sh browser`): the
//! `myna-local` binary started on a free loopback port with a fresh data dir ([`Server`]),
//! Debian's chromedriver driving headless Chromium ([`Driver`]), a browser tab that checks every
//! page it lands on ([`Tab`]: sideways overflow, console errors, axe-core) and saves a
//! screenshot of each step, and the plaintext scan ([`scan`]) run over everything the journey
//! left behind.
//!
//! It does not build anything: the suite's script builds `myna-local` and installs Chromium,
//! chromedriver and axe-core first. Where those are missing, [`Tools::find`] says what is missing
//! so the suite can fail with the reason.

pub mod scan;
mod tab;

pub use tab::{Problems, Tab};

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use myna::adapters::embedded::Outbox;

/// What the journeys need from the machine, found up front.
pub struct Tools {
    pub server: PathBuf,
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    /// axe-core's browser build, injected into every page.
    pub axe: String,
}

impl Tools {
    /// The `myna-local` beside this test binary (`target/debug`), Chromium (`MYNA_CHROMIUM`,
    /// else /usr/bin/chromium), chromedriver (`MYNA_CHROMEDRIVER`, else /usr/bin/chromedriver)
    /// and `tests/browser/node_modules/axe-core/axe.min.js`.
    pub fn find() -> Result<Tools, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // target/debug/deps/browser-<hash> → target/debug/myna-local
        let server = exe
            .parent()
            .and_then(Path::parent)
            .map(|dir| dir.join("myna-local"))
            .filter(|p| p.exists())
            .ok_or("no myna-local beside the test binary: run `cargo build -p myna-local` first")?;
        let chromium = PathBuf::from(
            std::env::var("MYNA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        );
        let chromedriver = PathBuf::from(
            std::env::var("MYNA_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        );
        for tool in [&chromium, &chromedriver] {
            if !tool.exists() {
                return Err(format!(
                    "{} is missing (apt-get install chromium chromium-driver)",
                    tool.display()
                ));
            }
        }
        let axe_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/browser/node_modules/axe-core/axe.min.js"
        );
        let axe = std::fs::read_to_string(axe_path)
            .map_err(|e| format!("{axe_path}: {e} (run `npm ci` in tests/browser)"))?;
        Ok(Tools {
            server,
            chromium,
            chromedriver,
            axe,
        })
    }
}

/// A free loopback port (bound, read and released: a race only with another process grabbing
/// it in between, which a failed start then reports).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited ({status}) before listening:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed (and reaped) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `myna-local` on `127.0.0.1:<free port>` with a fresh data dir; its stdout and stderr go to
/// one log file, scanned at the end like the data dir.
pub struct Server {
    _child: Running,
    pub base: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts the server in `work` (data dir `work/data`, log `work/server.log`).
    pub fn start(tools: &Tools, work: &Path) -> Server {
        let port = free_port();
        let data_dir = work.join("data");
        let log = work.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let postal = concat!(env!("CARGO_MANIFEST_DIR"), "/../build/postal");
        let mut cmd = Command::new(&tools.server);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("MYNA_SMTP_HOST")
            // Debug level: the scan reads the most the server could ever log.
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if Path::new(postal).is_dir() {
            cmd.arg("--postal-dir").arg(postal);
        }
        let mut child = cmd.spawn().unwrap();
        wait_for_port(port, &mut child, "myna-local", &log);
        Server {
            _child: Running(child),
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
            log,
        }
    }

    /// The newest mail to `to` in the outbox (the files the local product writes), waiting up to
    /// 20 s for it to arrive (mail blasts run in the server's worker).
    pub fn mail_to(&self, to: &str, subject_part: &str) -> myna::ports::mailer::Mail {
        let outbox = Outbox::open(&self.data_dir.join("outbox")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(sent) = outbox.list().unwrap().into_iter().find(|m| {
                m.mail.to.eq_ignore_ascii_case(to) && m.mail.subject.contains(subject_part)
            }) {
                return sent.mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} about {subject_part:?} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Everything the server printed so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        text
    }
}

/// chromedriver on a free loopback port.
pub struct Driver {
    _child: Running,
    pub url: String,
    pub chromium: PathBuf,
}

impl Driver {
    pub fn start(tools: &Tools, work: &Path) -> Driver {
        let port = free_port();
        let log = work.join("chromedriver.log");
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, "chromedriver", &log);
        Driver {
            _child: Running(child),
            url: format!("http://127.0.0.1:{port}"),
            chromium: tools.chromium.clone(),
        }
    }
}

/// Where screenshots go: `MYNA_BROWSER_ARTEFACTS`, else `<target>/browser-artefacts`, emptied.
pub fn artefact_dir() -> PathBuf {
    let dir = std::env::var_os("MYNA_BROWSER_ARTEFACTS")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.join("browser-artefacts"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("myna-browser-artefacts"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
