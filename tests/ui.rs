//! `hookguard listen --ui`, looked at in a real browser: headless Chromium, driven over
//! WebDriver, against a running listener on loopback.
//!
//! Without Chromium and chromedriver each test says so loudly on stderr and passes; with
//! `CI` set it fails instead (`.ci/run` installs them).
#![cfg(all(feature = "cli", unix))]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use hookguard::signature::{Encoding, SignatureFormat};
use hookguard::testing::Signer;
use hookguard::{Claimr, Secret, SignatureScheme};
use http::HeaderMap;
use serde_json::Value;
use support::{free_port, unique_name, wait_for_listener, CLAIMR_SECRET};

/// One browser at a time: the machine running these may have two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `hookguard listen --ui`, killed and waited for when dropped.
struct Listen {
    child: Child,
    addr: String,
    base: String,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listen {
    fn start(db: &Path, extra: &[&str]) -> Listen {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["listen", "--ui", "--addr", &addr, "--secret", CLAIMR_SECRET])
            .arg("--db")
            .arg(db)
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("listen: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        assert!(wait_for_listener(&addr), "listen did not start on {addr}");
        Listen {
            child,
            base: format!("http://{addr}"),
            addr,
            stderr: lines,
        }
    }
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(unique_name("hookguard_ui"));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn db(&self) -> PathBuf {
        self.0.join("listen.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends a request over a fresh connection and gives back the status answered.
fn send(addr: &str, method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    read_status(stream)
}

/// Sends only the head of a POST declaring a body of `length` bytes: a listener that
/// refuses it for its length answers before any of it is sent.
fn send_declaring(addr: &str, path: &str, length: usize) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    read_status(stream)
}

fn read_status(mut stream: TcpStream) -> u16 {
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Posts `body` to the listener, signed by `signer`.
fn post_signed(addr: &str, path: &str, signer: &Signer, body: &[u8]) -> u16 {
    let headers = signer.headers(body).unwrap();
    send(addr, "POST", path, &headers, body)
}

fn claimr_body(id: &str, scope: &str, user: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","scope":"{scope}","user_id":"{user}","campaign":{{"id":"c_1","name":"Summer"}}}}"#)
        .into_bytes()
}

/// The page's row of the delivery whose id is `id`, once it is listed: its verdict.
async fn verdict_of(browser: &browser::Browser, id: &str) -> String {
    let script = format!(
        "const li = [...document.querySelectorAll('#list li')]
           .find((li) => li.querySelector('.meta').textContent.includes({id:?}));
         return li ? li.dataset.verdict : null;"
    );
    browser
        .wait_for(&format!("the delivery {id} listed"), &script)
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// Opens the delivery whose id is `id` and waits for its detail.
async fn open_delivery(browser: &browser::Browser, id: &str) {
    let script = format!(
        "const li = [...document.querySelectorAll('#list li')]
           .find((li) => li.querySelector('.meta').textContent.includes({id:?}));
         if (!li) return false;
         li.querySelector('button').click();
         return true;"
    );
    browser
        .wait_for(&format!("the delivery {id} to click"), &script)
        .await;
    let shown = format!(
        "const id = document.getElementById('detail-id');
         return id !== null && id.textContent === {id:?};"
    );
    browser
        .wait_for(&format!("the detail of {id}"), &shown)
        .await;
}

/// Where the browser tests leave the screenshot: `HOOKGUARD_SCREENSHOT`, or the target
/// folder.
fn screenshot_path() -> PathBuf {
    match std::env::var_os("HOOKGUARD_SCREENSHOT") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().unwrap();
            // target/<profile>/deps/ui-… → target/inspector.png
            let target = exe.ancestors().nth(3).unwrap().to_owned();
            target.join("inspector.png")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_and_tampered_deliveries_appear_live_with_their_verdicts() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser::start("signed_and_tampered_deliveries_appear_live").await else {
        return;
    };
    let dir = TempDir::new();
    let listen = Listen::start(&dir.db(), &[]);
    browser.open(&listen.base).await;
    // Set on this page only: a reload would lose it.
    browser
        .eval("window.stillThisPage = 'yes'; return null")
        .await;

    let signer = Claimr::signer(CLAIMR_SECRET).unwrap();
    let body = claimr_body("msg_signed", "user_login", "u_1");
    assert_eq!(
        post_signed(&listen.addr, "/webhooks/claimr", &signer, &body),
        200
    );
    assert_eq!(verdict_of(&browser, "msg_signed").await, "verified");

    // Signed, then changed on the way.
    let signed = claimr_body("msg_tampered", "user_reward", "u_1");
    let headers = signer.headers(&signed).unwrap();
    let tampered = claimr_body("msg_tampered", "user_reward", "u_2");
    assert_eq!(
        send(
            &listen.addr,
            "POST",
            "/webhooks/claimr",
            &headers,
            &tampered
        ),
        401
    );
    assert_eq!(
        verdict_of(&browser, "msg_tampered").await,
        "signature mismatch"
    );

    // Not JSON, correctly signed: the layer's words for it.
    let garbage = b"not json at all".to_vec();
    let mut headers = signer.headers(&garbage).unwrap();
    headers.insert("x-request-id", "garbage".parse().unwrap());
    send(&listen.addr, "POST", "/hook", &headers, &garbage);
    let listed = browser
        .wait_for(
            "the malformed delivery",
            "return document.querySelector('#list li[data-verdict=\"malformed JSON\"]') !== null",
        )
        .await;
    assert_eq!(listed, Value::Bool(true));

    assert_eq!(
        browser.eval("return window.stillThisPage").await,
        "yes",
        "the page was reloaded"
    );
    // Newest first.
    let order = browser
        .eval("return [...document.querySelectorAll('#list li')].map((li) => li.dataset.verdict)")
        .await;
    assert_eq!(
        order,
        serde_json::json!(["malformed JSON", "signature mismatch", "verified"])
    );

    // The verified one, opened: the typed event, the answer, the body.
    open_delivery(&browser, "msg_signed").await;
    let detail = browser
        .eval("return document.getElementById('detail').innerText")
        .await;
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("UserLogin"), "{detail}");
    assert!(detail.contains("200 OK"), "{detail}");
    assert!(detail.contains("x-claimr-signature"), "{detail}");
    let pretty = browser
        .eval("return document.getElementById('body-pretty').textContent")
        .await;
    assert!(
        pretty
            .as_str()
            .unwrap()
            .contains("\"scope\": \"user_login\""),
        "{pretty}"
    );
    // The tampered one: refused, and what --detect makes of it (no scheme verifies it).
    open_delivery(&browser, "msg_tampered").await;
    let detect = browser
        .eval("return document.getElementById('detect').innerText")
        .await;
    assert!(
        detect
            .as_str()
            .unwrap()
            .contains("None of the known shapes"),
        "{detect}"
    );
    let answer = browser
        .eval("return document.getElementById('detail-answer').textContent")
        .await;
    assert_eq!(answer, "401 invalid signature");

    // A narrow window: nothing wider than the screen.
    browser.client.set_window_size(400, 800).await.unwrap();
    let overflow = browser
        .eval("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "wider than the window by {overflow}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detect_panel_names_the_scheme_of_a_delivery_signed_with_another_header() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser::start("the_detect_panel_names_the_scheme").await else {
        return;
    };
    let dir = TempDir::new();
    let listen = Listen::start(&dir.db(), &[]);
    browser.open(&listen.base).await;

    let claimr = Claimr::signer(CLAIMR_SECRET).unwrap();
    let body = claimr_body("msg_default", "user_activity", "u_7");
    post_signed(&listen.addr, "/webhooks/claimr", &claimr, &body);
    verdict_of(&browser, "msg_default").await;
    let forged = Claimr::signer("another-secret").unwrap();
    let body = claimr_body("msg_forged", "referral", "u_8");
    post_signed(&listen.addr, "/webhooks/claimr", &forged, &body);
    verdict_of(&browser, "msg_forged").await;

    // The same secret, but base64 in a header of the sender's own.
    let scheme = SignatureScheme::new("X-Acme-Signature")
        .unwrap()
        .with_encoding(Encoding::Base64)
        .with_format(SignatureFormat::List { prefix: None });
    let acme = Signer::new(scheme, Secret::new(CLAIMR_SECRET).unwrap());
    let body = claimr_body("msg_acme", "user_reward", "u_9");
    assert_eq!(
        post_signed(&listen.addr, "/webhooks/acme", &acme, &body),
        401
    );
    assert_eq!(verdict_of(&browser, "msg_acme").await, "missing signature");

    open_delivery(&browser, "msg_acme").await;
    let detect = browser
        .wait_for(
            "the detect panel",
            "const d = document.getElementById('detect'); return d && d.innerText",
        )
        .await;
    let detect = detect.as_str().unwrap();
    assert!(detect.contains("x-acme-signature"), "{detect}");
    assert!(detect.contains("base64"), "{detect}");
    assert!(detect.contains("{body}"), "{detect}");
    assert!(
        detect.contains("SignatureScheme::new(\"X-Acme-Signature\")"),
        "{detect}"
    );
    assert!(detect.contains("Encoding::Base64"), "{detect}");

    // The page as the README shows it.
    browser.client.set_window_size(1280, 860).await.unwrap();
    let path = screenshot_path();
    browser.screenshot(&path).await;
    eprintln!("screenshot: {}", path.display());
    browser.close().await;
}

/// A forward target: answers every request 202 `accepted by the target`, and hands
/// each request's body to the test.
fn forward_target() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                seen.lock().unwrap().push(body);
                let text = "accepted by the target";
                let answer = format!(
                    "HTTP/1.1 202 Accepted\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = reader.get_mut().write_all(answer.as_bytes());
            });
        }
    });
    (format!("http://{addr}/webhooks/claimr"), bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reaches_the_forward_target_and_shows_its_status() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser::start("replay_reaches_the_forward_target").await else {
        return;
    };
    let (target, bodies) = forward_target();
    let dir = TempDir::new();
    let listen = Listen::start(&dir.db(), &["--forward-to", &target]);
    browser.open(&listen.base).await;

    let signer = Claimr::signer(CLAIMR_SECRET).unwrap();
    let body = claimr_body("msg_forwarded", "user_reward", "u_3");
    assert_eq!(post_signed(&listen.addr, "/hook", &signer, &body), 200);
    assert_eq!(verdict_of(&browser, "msg_forwarded").await, "verified");
    open_delivery(&browser, "msg_forwarded").await;
    // The forward's answer, as claimr's Test tool shows one.
    let forwarded = browser
        .wait_for(
            "the forward's answer",
            "const f = document.getElementById('forward-answer'); return f && f.innerText",
        )
        .await;
    let forwarded = forwarded.as_str().unwrap();
    assert!(forwarded.contains("202"), "{forwarded}");
    assert!(forwarded.contains("accepted by the target"), "{forwarded}");
    assert_eq!(bodies.lock().unwrap().len(), 1);

    browser
        .eval("document.getElementById('replay').click(); return null")
        .await;
    let status = browser
        .wait_for(
            "the replay's status",
            "const r = document.querySelector('#replay-answer .status-code');
             return r && r.textContent",
        )
        .await;
    assert_eq!(status, "202");
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "the replay did not reach the target");
    assert_eq!(
        bodies[1], body,
        "the replay is not the delivery as received"
    );
    // Kept with the delivery.
    browser
        .wait_for(
            "the replay in the delivery's history",
            "const r = document.getElementById('replays'); return r && r.innerText.includes('202')",
        )
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_with_a_script_shows_as_text() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser::start("a_body_with_a_script_shows_as_text").await else {
        return;
    };
    let dir = TempDir::new();
    let listen = Listen::start(&dir.db(), &[]);
    browser.open(&listen.base).await;

    let attack = "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>";
    let body = serde_json::to_vec(&serde_json::json!({
        "id": "msg_script",
        "scope": "user_login",
        "user_id": attack,
    }))
    .unwrap();
    let signer = Claimr::signer(CLAIMR_SECRET).unwrap();
    let mut headers = signer.headers(&body).unwrap();
    headers.insert(
        "x-note",
        "<b>bold</b><script>window.pwned=3</script>"
            .parse()
            .unwrap(),
    );
    send(
        &listen.addr,
        "POST",
        "/%3Cscript%3Ewindow.pwned=4%3C/script%3E",
        &headers,
        &body,
    );
    verdict_of(&browser, "msg_script").await;
    open_delivery(&browser, "msg_script").await;

    let raw = browser
        .eval("return document.getElementById('body-raw').textContent")
        .await;
    assert!(raw.as_str().unwrap().contains(attack), "{raw}");
    let shown = browser
        .eval("return document.getElementById('detail').innerText")
        .await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("<b>bold</b>"), "{shown}");
    let injected = browser
        .eval(
            "return {
               pwned: window.pwned === undefined ? null : window.pwned,
               scripts: document.querySelectorAll('#deliveries-pane script, #detail-pane script').length,
               images: document.querySelectorAll('img').length,
               bold: document.querySelectorAll('#detail-pane b').length,
             }",
        )
        .await;
    assert_eq!(
        injected,
        serde_json::json!({ "pwned": null, "scripts": 0, "images": 0, "bold": 0 })
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_survives_a_restart() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser::start("the_history_survives_a_restart").await else {
        return;
    };
    let dir = TempDir::new();
    let signer = Claimr::signer(CLAIMR_SECRET).unwrap();
    {
        let listen = Listen::start(&dir.db(), &[]);
        let body = claimr_body("msg_before", "user_login", "u_4");
        assert_eq!(post_signed(&listen.addr, "/hook", &signer, &body), 200);
        let forged = Claimr::signer("forged").unwrap();
        let body = claimr_body("msg_forged_before", "user_login", "u_4");
        assert_eq!(post_signed(&listen.addr, "/hook", &forged, &body), 401);
        // Over the cap: refused before it is read, and listed.
        assert_eq!(send_declaring(&listen.addr, "/big", 1024 * 1024 + 1), 413);
        // Killed, as a laptop closes a terminal.
    }
    let listen = Listen::start(&dir.db(), &[]);
    browser.open(&listen.base).await;
    assert_eq!(verdict_of(&browser, "msg_before").await, "verified");
    assert_eq!(
        verdict_of(&browser, "msg_forged_before").await,
        "signature mismatch"
    );
    browser
        .wait_for(
            "the body over the cap",
            "return document.querySelector('#list li[data-verdict=\"payload too large\"]') !== null",
        )
        .await;
    // And the journal has them, for `hookguard deliveries`.
    let listed = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["deliveries", "list", "--json", "--db"])
        .arg(dir.db())
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("\"msg_before\""), "{listed}");
    assert!(listed.contains("signature mismatch"), "{listed}");
    // The old delivery opens with its headers and body.
    open_delivery(&browser, "msg_before").await;
    let raw = browser
        .eval("return document.getElementById('body-raw').textContent")
        .await;
    assert!(raw.as_str().unwrap().contains("msg_before"), "{raw}");
    drop(listen);
    browser.close().await;
}

#[test]
fn a_listener_off_loopback_says_it_is_reachable_from_the_network() {
    let dir = TempDir::new();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["listen", "--ui", "--secret", "s", "--addr"])
        .arg(format!("0.0.0.0:{port}"))
        .arg("--db")
        .arg(dir.db())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("reachable from the network"), "{line}");
}

#[test]
fn the_inspector_is_only_at_get_slash() {
    let dir = TempDir::new();
    let listen = Listen::start(&dir.db(), &[]);
    let none = HeaderMap::new();
    assert_eq!(send(&listen.addr, "GET", "/", &none, b""), 200);
    // Every other request is a delivery, as without --ui.
    assert_eq!(send(&listen.addr, "GET", "/other", &none, b""), 405);
    assert_eq!(send(&listen.addr, "POST", "/", &none, b"{}"), 401);
    // An action without the page's header is refused.
    assert_eq!(
        send(
            &listen.addr,
            "GET",
            "/?send=claimr&event=user_login",
            &none,
            b""
        ),
        403
    );
    assert!(listen.stderr.try_recv().is_err());
}
