//! A small but real SMTP server for tests, on a loopback port: EHLO, STARTTLS (rustls, with a
//! CA and a certificate made for this run), AUTH PLAIN offered only after STARTTLS (as real
//! submission servers do), MAIL, RCPT, DATA, RSET, NOOP, QUIT. It keeps what it received, so a
//! test can read the code a login mail carried. Not a mail store: nothing is relayed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Offer STARTTLS (and AUTH only after it). `false`: a server that never offers TLS.
    pub starttls: bool,
    /// The only user and password accepted; mail is refused (530) before login.
    pub login: (String, String),
    /// Recipients ending with this are refused with 550, quoting the address as servers do.
    pub refuse_recipients_ending: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            starttls: true,
            login: ("myna-mailer".into(), "smtp-test-password".into()),
            refuse_recipients_ending: None,
        }
    }
}

/// One accepted mail.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub rcpt: Vec<String>,
    /// The message as sent after DATA (headers and encoded body), dot-stuffing removed.
    pub data: String,
    /// Whether the mail came over the STARTTLS-upgraded connection.
    pub over_tls: bool,
    pub user: Option<String>,
}

impl Received {
    /// A header's value, unfolded, with RFC 2047 `=?utf-8?b?…?=` words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push_str(line);
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_string());
                }
            }
        }
        value.map(|v| decode_words(&v))
    }

    /// The text body, decoded from base64 when it was sent so.
    pub fn body_text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let base64 = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("base64"));
        if !base64 {
            return body.to_string();
        }
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Decodes the B-encoded words of a header value (what lettre writes for Japanese text).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        let inner = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (_, enc, text) = (parts.next()?, parts.next()?, parts.next()?);
                enc.eq_ignore_ascii_case("b").then_some(text)
            });
        match inner.and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok()) {
            Some(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

/// A running server; stops when dropped.
pub struct SmtpServer {
    pub addr: SocketAddr,
    /// The CA that signed the server's certificate (for 127.0.0.1 and localhost), in PEM.
    pub ca_pem: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl SmtpServer {
    /// Starts on a free loopback port.
    pub async fn start(behaviour: Behaviour) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("smtp bind");
        Self::start_on(listener, behaviour)
    }

    /// Starts on `addr` again after `stop` (a server that was down and comes back).
    pub async fn start_at(addr: SocketAddr, behaviour: Behaviour) -> SmtpServer {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("smtp bind {addr}: {e}"),
            }
        };
        Self::start_on(listener, behaviour)
    }

    /// Stops accepting and closes the port (connections are refused from then on).
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    fn start_on(listener: TcpListener, behaviour: Behaviour) -> SmtpServer {
        let addr = listener.local_addr().expect("smtp addr");
        let (ca_pem, acceptor) = tls_acceptor();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, acceptor, store) =
                    (behaviour.clone(), acceptor.clone(), store.clone());
                tokio::spawn(async move {
                    let _ = session(stream, &behaviour, &acceptor, &store).await;
                });
            }
        });
        SmtpServer {
            addr,
            ca_pem,
            received,
            task: Some(task),
        }
    }

    /// Every mail accepted so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A CA and a server certificate signed by it, made once per test process: a server that
/// comes back on the same port is trusted by the same mailer, as a real one would be.
fn tls_acceptor() -> (String, TlsAcceptor) {
    static TLS: std::sync::OnceLock<(String, TlsAcceptor)> = std::sync::OnceLock::new();
    TLS.get_or_init(make_tls).clone()
}

fn make_tls() -> (String, TlsAcceptor) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "myna test SMTP CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    (ca.pem(), TlsAcceptor::from(Arc::new(config)))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn session(
    stream: TcpStream,
    behaviour: &Behaviour,
    acceptor: &TlsAcceptor,
    store: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut conn = BufReader::new(Box::new(stream) as Box<dyn Stream>);
    let mut tls = false;
    let mut user: Option<String> = None;
    let mut from = String::new();
    let mut rcpt: Vec<String> = Vec::new();
    reply(&mut conn, "220 localhost ESMTP myna-test\r\n").await?;
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                let mut lines = String::from("250-localhost\r\n");
                if behaviour.starttls && !tls {
                    lines.push_str("250-STARTTLS\r\n");
                }
                if tls {
                    lines.push_str("250-AUTH PLAIN\r\n");
                }
                lines.push_str("250 8BITMIME\r\n");
                reply(&mut conn, &lines).await?;
            }
            "HELO" | "NOOP" | "RSET" => {
                if verb == "RSET" {
                    from.clear();
                    rcpt.clear();
                }
                reply(&mut conn, "250 OK\r\n").await?;
            }
            "STARTTLS" if behaviour.starttls && !tls => {
                reply(&mut conn, "220 Ready to start TLS\r\n").await?;
                let plain = conn.into_inner();
                let upgraded = acceptor.accept(plain).await?;
                conn = BufReader::new(Box::new(upgraded) as Box<dyn Stream>);
                tls = true;
            }
            "AUTH" if tls => {
                let initial = line.split_whitespace().nth(2).map(str::to_string);
                let response = match initial {
                    Some(r) => r,
                    None => {
                        reply(&mut conn, "334 \r\n").await?;
                        let mut r = String::new();
                        conn.read_line(&mut r).await?;
                        r.trim().to_string()
                    }
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(response)
                    .unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                let ok = parts.len() == 3
                    && parts[1] == behaviour.login.0.as_bytes()
                    && parts[2] == behaviour.login.1.as_bytes();
                if ok {
                    user = Some(behaviour.login.0.clone());
                    reply(&mut conn, "235 2.7.0 Authentication successful\r\n").await?;
                } else {
                    reply(
                        &mut conn,
                        "535 5.7.8 Authentication credentials invalid\r\n",
                    )
                    .await?;
                }
            }
            "MAIL" if user.is_none() => {
                reply(&mut conn, "530 5.7.0 Authentication required\r\n").await?;
            }
            "MAIL" => {
                from = address(&line);
                rcpt.clear();
                reply(&mut conn, "250 2.1.0 OK\r\n").await?;
            }
            "RCPT" => {
                let to = address(&line);
                let refused = behaviour
                    .refuse_recipients_ending
                    .as_deref()
                    .is_some_and(|end| to.ends_with(end));
                if refused {
                    let text = format!("550 5.1.1 <{to}>: Recipient address rejected\r\n");
                    reply(&mut conn, &text).await?;
                } else {
                    rcpt.push(to);
                    reply(&mut conn, "250 2.1.5 OK\r\n").await?;
                }
            }
            "DATA" if !rcpt.is_empty() => {
                reply(&mut conn, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if conn.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Received {
                        from: std::mem::take(&mut from),
                        rcpt: std::mem::take(&mut rcpt),
                        data,
                        over_tls: tls,
                        user: user.clone(),
                    });
                reply(&mut conn, "250 2.0.0 OK queued\r\n").await?;
            }
            "QUIT" => {
                reply(&mut conn, "221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => reply(&mut conn, "502 5.5.1 Command not available\r\n").await?,
        }
    }
}

/// The address inside `<…>` of a MAIL or RCPT command.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

async fn reply(conn: &mut BufReader<Box<dyn Stream>>, text: &str) -> std::io::Result<()> {
    conn.get_mut().write_all(text.as_bytes()).await?;
    conn.get_mut().flush().await
}
