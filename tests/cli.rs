//! The `hookguard` command, run as a user runs it, against the example receiver over
//! loopback.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hookguard::signature::{Encoding, SignatureFormat};
use hookguard::testing::Signer;
use hookguard::{chainvine, claimr, Claimr, HmacSender, Secret, SignatureScheme, Standard};
use support::{
    free_port, start_example_receiver, unique_name, wait_for_listener, CHAINVINE_SECRET,
    CLAIMR_SECRET, STANDARD_SECRET,
};

const WAIT: Duration = Duration::from_secs(30);

/// What a run of the command gave.
struct Run {
    code: i32,
    stdout: String,
}

/// Runs `hookguard args`, killing it if it has not finished within [`WAIT`].
fn hookguard(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hookguard {args:?} did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: reader.join().unwrap(),
    }
}

/// A temporary file holding `bytes`, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(unique_name("hookguard_cli"));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `--header` arguments for every header in `headers`.
fn header_args(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .iter()
        .flat_map(|(name, value)| {
            [
                "--header".to_owned(),
                format!("{name}: {}", value.to_str().unwrap()),
            ]
        })
        .collect()
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[test]
fn send_delivers_every_claimr_and_chainvine_event_to_the_example_receiver() {
    let receiver = start_example_receiver();
    let cases = claimr::EventKind::KNOWN
        .iter()
        .map(|kind| ("claimr", kind.as_str(), CLAIMR_SECRET))
        .chain(
            chainvine::EventKind::KNOWN
                .iter()
                .map(|kind| ("chainvine", kind.as_str(), CHAINVINE_SECRET)),
        );
    for (provider, event, secret) in cases {
        let url = format!("{}/webhooks/{provider}", receiver.base);
        let run = hookguard(&[
            "send",
            "--provider",
            provider,
            "--event",
            event,
            "--secret",
            secret,
            "--user",
            "user-42",
            &url,
        ]);
        assert_eq!(run.code, 0, "{provider} {event}: {}", run.stdout);
        assert!(run.stdout.contains("Request body:\n{"), "{}", run.stdout);
        if event != "REFERRAL_CONVERSION" {
            // A referral conversion names wallets, not users.
            assert!(run.stdout.contains("\"user-42\""), "{}", run.stdout);
        }
        assert!(
            run.stdout.contains("Success: true\nStatus: 200\nData: "),
            "{}",
            run.stdout
        );
        let line = receiver.lines.recv_timeout(WAIT).unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["provider"], provider);
        assert_eq!(json["event"], event);
    }
}

#[test]
fn send_delivers_a_standard_webhooks_sample_with_its_message_id() {
    let receiver = start_example_receiver();
    let url = format!("{}/webhooks/standard", receiver.base);
    let run = hookguard(&[
        "send",
        "--provider",
        "standard",
        "--event",
        "invoice.paid",
        "--secret",
        STANDARD_SECRET,
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let line = receiver.lines.recv_timeout(WAIT).unwrap();
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["provider"], "standard");
    assert_eq!(json["event"], "invoice.paid");
    assert!(json["id"].as_str().unwrap().starts_with("msg_"), "{line}");
}

#[test]
fn send_with_a_wrong_secret_shows_the_401_and_fails() {
    let receiver = start_example_receiver();
    let url = format!("{}/webhooks/claimr", receiver.base);
    let run = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "user_activity",
        "--secret",
        "not-it",
        &url,
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("Success: true\nStatus: 401\n"),
        "{}",
        run.stdout
    );
    assert!(receiver
        .lines
        .recv_timeout(Duration::from_millis(300))
        .is_err());
}

#[test]
fn send_to_nothing_is_not_a_success() {
    let url = format!("http://127.0.0.1:{}/webhooks/claimr", free_port());
    let run = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "user_login",
        "--secret",
        "s",
        "--timeout",
        "10",
        &url,
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("Success: false\nStatus: -"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(hookguard(&["sign", "--secret", "s"]).code, 2);
    let run = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "no_such_event",
        "--secret",
        "s",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(run.code, 2);
}

#[test]
fn the_secret_can_come_from_the_environment() {
    let body = TempFile::new(b"{}");
    let output = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["sign", "--provider", "github", body.path()])
        .env("HOOKGUARD_SECRET", "gh-secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    let expected = HmacSender::github_signer("gh-secret")
        .unwrap()
        .headers(b"{}")
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let signature = expected["x-hub-signature-256"].to_str().unwrap();
    assert!(
        stdout.contains(&format!("X-Hub-Signature-256: {signature}\n")),
        "{stdout}"
    );
}

#[test]
fn sign_then_verify_round_trips_for_every_provider() {
    let body = Claimr::sample(claimr::EventKind::UserLogin).body();
    let file = TempFile::new(&body);
    let tampered = TempFile::new(&[&body[..], b" "].concat());
    for (provider, secret) in [
        ("claimr", CLAIMR_SECRET),
        ("chainvine", CHAINVINE_SECRET),
        ("standard", STANDARD_SECRET),
        ("github", "gh-secret"),
        ("stripe", "whsec_stripe_secret"),
    ] {
        let signed = hookguard(&[
            "sign",
            "--provider",
            provider,
            "--secret",
            secret,
            file.path(),
        ]);
        assert_eq!(signed.code, 0, "{provider}");
        let mut list = vec!["verify", "--provider", provider, "--secret", secret];
        for line in signed.stdout.lines() {
            list.extend(["--header", line]);
        }
        let valid = hookguard(&[&list[..], &[file.path()]].concat());
        assert_eq!(valid.code, 0, "{provider}: {}", valid.stdout);
        assert!(valid.stdout.starts_with("valid"), "{}", valid.stdout);

        let invalid = hookguard(&[&list[..], &[tampered.path()]].concat());
        assert_eq!(invalid.code, 1, "{provider}: {}", invalid.stdout);
        assert!(
            invalid.stdout.starts_with("invalid: signature mismatch"),
            "{}",
            invalid.stdout
        );
    }
}

/// Runs `verify --detect` on a delivery signed by `signer`.
fn detect(signer: &Signer, secret: &str) -> Run {
    let body = Standard::sample("invoice.paid").body();
    let mut headers = signer.headers(&body).unwrap();
    headers.insert("user-agent", "claimr/1.0".parse().unwrap());
    let file = TempFile::new(&body);
    let mut list = vec![
        "verify".to_owned(),
        "--detect".to_owned(),
        "--secret".to_owned(),
        secret.to_owned(),
    ];
    list.extend(header_args(&headers));
    list.push(file.path().to_owned());
    hookguard(&args(&list))
}

#[test]
fn detect_finds_the_claimr_default() {
    let run = detect(&Claimr::signer("claimr-s").unwrap(), "claimr-s");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "match: header=x-claimr-signature encoding=hex format=prefix:sha256= signed={body} \
         timestamp=- secret=utf8 preset=claimr"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn detect_finds_a_base64_signature_in_a_header_of_its_own() {
    let scheme = SignatureScheme::new("X-Signature")
        .unwrap()
        .with_encoding(Encoding::Base64)
        .with_format(SignatureFormat::List { prefix: None });
    let run = detect(
        &Signer::new(scheme, Secret::new("sekret").unwrap()),
        "sekret",
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "match: header=x-signature encoding=base64 format=plain signed={body} timestamp=- \
         secret=utf8 preset=none"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(".with_encoding(Encoding::Base64)"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("match:").count(), 1, "{}", run.stdout);
}

#[test]
fn detect_finds_standard_webhooks_with_a_whsec_secret() {
    let run = detect(&Standard::signer(STANDARD_SECRET).unwrap(), STANDARD_SECRET);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "match: header=webhook-signature encoding=base64 format=versioned:v1, \
         signed={header:webhook-id}.{timestamp}.{body} timestamp=header:webhook-timestamp \
         secret=whsec-base64 preset=standard"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Standard::new(secret)?"),
        "{}",
        run.stdout
    );
}

#[test]
fn detect_finds_stripe() {
    // An old delivery: detection ignores the window, as captures are replayed later.
    let signer = HmacSender::stripe_signer("whsec_stripe")
        .unwrap()
        .at(1_600_000_000);
    let run = detect(&signer, "whsec_stripe");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains(
        "match: header=stripe-signature encoding=hex format=key-value:v1= signed={timestamp}.{body} \
         timestamp=key:t secret=utf8 preset=stripe"
    ), "{}", run.stdout);
}

#[test]
fn detect_with_the_wrong_secret_matches_nothing() {
    let run = detect(&Claimr::signer("claimr-s").unwrap(), "another");
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("no match"), "{}", run.stdout);
}

/// `hookguard listen`, killed and waited for when dropped.
struct Listen {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listen {
    fn start(extra: &[&str]) -> Listen {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["listen", "--addr", &addr, "--secret", CLAIMR_SECRET])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let listen = Listen {
            child,
            lines,
            base: format!("http://{addr}"),
        };
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        assert!(wait_for_listener(&addr), "listen did not start on {addr}");
        listen
    }

    /// The lines printed until one contains `needle`.
    fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("`{needle}` not printed; got {seen:#?}");
    }
}

#[test]
fn listen_verifies_and_prints_each_delivery() {
    let listen = Listen::start(&[]);
    let url = format!("{}/anything", listen.base);
    let run = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "referral",
        "--secret",
        CLAIMR_SECRET,
        "--user",
        "user-77",
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("Status: 200"), "{}", run.stdout);
    let lines = listen.until("\"user\": \"user-77\"");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /anything valid provider=claimr event=referral id=")),
        "{lines:#?}"
    );

    let forged = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "referral",
        "--secret",
        "forged",
        &url,
    ]);
    assert_eq!(forged.code, 1, "{}", forged.stdout);
    assert!(forged.stdout.contains("Status: 401"), "{}", forged.stdout);
    listen.until("POST /anything invalid provider=claimr reason=\"signature mismatch\"");
}

#[test]
fn listen_forwards_to_the_example_receiver() {
    let receiver = start_example_receiver();
    let target = format!("{}/webhooks/claimr", receiver.base);
    let listen = Listen::start(&["--forward-to", &target]);
    let run = hookguard(&[
        "send",
        "--provider",
        "claimr",
        "--event",
        "user_reward",
        "--secret",
        CLAIMR_SECRET,
        &format!("{}/hook", listen.base),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    listen.until(&format!("forwarded to {target}: 200"));
    let line = receiver.lines.recv_timeout(WAIT).unwrap();
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["event"], "user_reward");
}
