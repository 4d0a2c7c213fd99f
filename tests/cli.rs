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
    free_port, start_example_receiver, start_example_receiver_with, unique_name, wait_for_listener,
    CHAINVINE_SECRET, CLAIMR_SECRET, STANDARD_SECRET,
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
fn keys_exported_for_standard_webhooks_do_not_break_the_other_providers() {
    let (signing, public) = keygen();
    let body = TempFile::new(b"{}");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(args)
            .env("HOOKGUARD_SIGNING_KEY", &signing)
            .env("HOOKGUARD_PUBLIC_KEY", &public)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let signed = run(&[
        "sign",
        "--provider",
        "claimr",
        "--secret",
        CLAIMR_SECRET,
        body.path(),
    ]);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let signed = String::from_utf8(signed.stdout).unwrap();
    let mut list = vec!["verify", "--provider", "claimr", "--secret", CLAIMR_SECRET];
    for line in signed.lines() {
        list.extend(["--header", line]);
    }
    list.push(body.path());
    let verified = run(&list);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert!(String::from_utf8(verified.stdout)
        .unwrap()
        .starts_with("valid"));
    assert!(String::from_utf8(verified.stderr)
        .unwrap()
        .contains("ignored"));
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

/// A key pair from `hookguard keygen`: (`whsk_…`, `whpk_…`).
fn keygen() -> (String, String) {
    let run = hookguard(&["keygen"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let value = |name: &str| {
        run.stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {}", run.stdout))
            .to_owned()
    };
    let pair = (value("Signing-Key: "), value("Public-Key: "));
    assert!(
        pair.0.starts_with("whsk_") && pair.1.starts_with("whpk_"),
        "{pair:?}"
    );
    pair
}

#[test]
fn keygen_sign_and_verify_round_trip_v1a() {
    let (signing_key, public_key) = keygen();
    let (again, _) = keygen();
    assert_ne!(signing_key, again, "fresh keys each time");
    // The library derives the same public key from the signing key.
    assert_eq!(
        hookguard::secret::SigningKey::from_standard(&signing_key)
            .unwrap()
            .public_key()
            .to_string(),
        public_key
    );
    let body = Standard::sample("invoice.paid").body();
    let file = TempFile::new(&body);
    let tampered = TempFile::new(&[&body[..], b" "].concat());

    let signed = hookguard(&[
        "sign",
        "--provider",
        "standard",
        "--signing-key",
        &signing_key,
        file.path(),
    ]);
    assert_eq!(signed.code, 0, "{}", signed.stdout);
    assert!(
        signed.stdout.contains("Webhook-Signature: v1a,"),
        "{}",
        signed.stdout
    );
    let mut list = vec![
        "verify",
        "--provider",
        "standard",
        "--public-key",
        &public_key,
    ];
    for line in signed.stdout.lines() {
        list.extend(["--header", line]);
    }
    let valid = hookguard(&[&list[..], &[file.path()]].concat());
    assert_eq!(valid.code, 0, "{}", valid.stdout);
    assert!(
        valid
            .stdout
            .starts_with("valid: standard event invoice.paid id msg_"),
        "{}",
        valid.stdout
    );
    let invalid = hookguard(&[&list[..], &[tampered.path()]].concat());
    assert_eq!(invalid.code, 1, "{}", invalid.stdout);
    assert!(
        invalid.stdout.starts_with("invalid: signature mismatch"),
        "{}",
        invalid.stdout
    );

    // A secret alone does not verify a v1a entry.
    let mut with_secret = vec![
        "verify",
        "--provider",
        "standard",
        "--secret",
        STANDARD_SECRET,
    ];
    for line in signed.stdout.lines() {
        with_secret.extend(["--header", line]);
    }
    let refused = hookguard(&[&with_secret[..], &[file.path()]].concat());
    assert_eq!(refused.code, 1, "{}", refused.stdout);

    // Both a secret and a signing key: both entries, each verifying on its own.
    let both = hookguard(&[
        "sign",
        "--provider",
        "standard",
        "--secret",
        STANDARD_SECRET,
        "--signing-key",
        &signing_key,
        file.path(),
    ]);
    assert_eq!(both.code, 0, "{}", both.stdout);
    assert!(
        both.stdout.contains("Webhook-Signature: v1,") && both.stdout.contains(" v1a,"),
        "{}",
        both.stdout
    );
    for (flag, key) in [
        ("--secret", STANDARD_SECRET),
        ("--public-key", public_key.as_str()),
    ] {
        let mut list = vec!["verify", "--provider", "standard", flag, key];
        for line in both.stdout.lines() {
            list.extend(["--header", line]);
        }
        let run = hookguard(&[&list[..], &[file.path()]].concat());
        assert_eq!(run.code, 0, "{flag}: {}", run.stdout);
    }
}

#[test]
fn signing_and_public_keys_are_checked_and_come_from_the_environment() {
    let (signing_key, public_key) = keygen();
    let body = TempFile::new(b"{}");
    // A key where it does not belong: usage errors.
    for list in [
        vec![
            "sign",
            "--provider",
            "claimr",
            "--signing-key",
            &signing_key,
            body.path(),
        ],
        vec![
            "verify",
            "--provider",
            "standard",
            "--public-key",
            &signing_key,
            "-H",
            "webhook-signature: v1a,x",
            body.path(),
        ],
        vec![
            "sign",
            "--provider",
            "standard",
            "--signing-key",
            &public_key,
            body.path(),
        ],
    ] {
        let run = hookguard(&list);
        assert_eq!(run.code, 2, "{list:?}: {}", run.stdout);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args([
            "sign",
            "--provider",
            "standard",
            "--id",
            "msg_env",
            "--timestamp",
            "1700000000",
            body.path(),
        ])
        .env("HOOKGUARD_SIGNING_KEY", &signing_key)
        .env_remove("HOOKGUARD_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    let expected = Standard::asymmetric_signer(&signing_key)
        .unwrap()
        .at(1_700_000_000)
        .with_message_id("msg_env")
        .headers(b"{}")
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let signature = expected["webhook-signature"].to_str().unwrap();
    assert!(
        stdout.contains(&format!("Webhook-Signature: {signature}\n")),
        "{stdout}"
    );
    // `--help` does not show the values of the environment.
    let help = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["sign", "--help"])
        .env("HOOKGUARD_SIGNING_KEY", &signing_key)
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("HOOKGUARD_SIGNING_KEY") && !help.contains(&signing_key),
        "{help}"
    );
}

#[test]
fn detect_recognises_a_v1a_entry() {
    let (signing_key, public_key) = keygen();
    let signer = Standard::asymmetric_signer(&signing_key).unwrap();
    let body = Standard::sample("invoice.paid").body();
    let headers = signer.headers(&body).unwrap();
    let file = TempFile::new(&body);
    let run_with = |flags: &[&str]| {
        let mut list: Vec<String> = vec!["verify".into(), "--detect".into()];
        list.extend(flags.iter().map(|f| f.to_string()));
        list.extend(header_args(&headers));
        list.push(file.path().to_owned());
        hookguard(&args(&list))
    };
    let found = run_with(&["--public-key", &public_key]);
    assert_eq!(found.code, 0, "{}", found.stdout);
    assert!(
        found.stdout.starts_with(
            "match: header=webhook-signature encoding=base64 format=versioned:v1a, \
             signed={header:webhook-id}.{timestamp}.{body} timestamp=header:webhook-timestamp \
             secret=whpk-ed25519 preset=standard\n"
        ),
        "{}",
        found.stdout
    );
    assert!(
        found
            .stdout
            .contains("Standard::from_public_keys([public_key])?"),
        "{}",
        found.stdout
    );

    let secret_only = run_with(&["--secret", STANDARD_SECRET]);
    assert_eq!(secret_only.code, 1, "{}", secret_only.stdout);
    assert!(
        secret_only.stdout.starts_with("no match"),
        "{}",
        secret_only.stdout
    );
    assert!(
        secret_only.stdout.contains(
            "v1a: Webhook-Signature holds a v1a (ed25519) entry; give the sender's public key with --public-key to check it"
        ),
        "{}",
        secret_only.stdout
    );
    let (_, stranger) = keygen();
    let other = run_with(&["--public-key", &stranger]);
    assert_eq!(other.code, 1, "{}", other.stdout);
    assert!(
        other
            .stdout
            .contains("entry; no given public key verifies it"),
        "{}",
        other.stdout
    );
}

#[test]
fn send_and_listen_with_ed25519_keys() {
    let (signing_key, public_key) = keygen();
    let receiver = start_example_receiver_with(&[("STANDARD_PUBLIC_KEY", &public_key)]);
    let url = format!("{}/webhooks/standard", receiver.base);
    let sent = hookguard(&[
        "send",
        "--provider",
        "standard",
        "--event",
        "invoice.paid",
        "--signing-key",
        &signing_key,
        &url,
    ]);
    assert_eq!(sent.code, 0, "{}", sent.stdout);
    assert!(sent.stdout.contains("Status: 200"), "{}", sent.stdout);
    let line = receiver.lines.recv_timeout(WAIT).unwrap();
    assert!(
        line.starts_with(r#"{"provider":"standard","event":"invoice.paid","id":"msg_"#),
        "{line}"
    );

    let (forger, _) = keygen();
    let forged = hookguard(&[
        "send",
        "--provider",
        "standard",
        "--event",
        "invoice.paid",
        "--signing-key",
        &forger,
        &url,
    ]);
    assert_eq!(forged.code, 1, "{}", forged.stdout);
    assert!(forged.stdout.contains("Status: 401"), "{}", forged.stdout);

    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["listen", "--addr", &addr, "--public-key", &public_key])
        .env("NO_COLOR", "1")
        .env_remove("HOOKGUARD_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let listen = Listen {
        child,
        lines: spawn_lines(stdout),
        base: format!("http://{addr}"),
    };
    assert!(wait_for_listener(&addr), "listen did not start on {addr}");
    let target = format!("{}/hook", listen.base);
    let run = hookguard(&[
        "send",
        "--provider",
        "standard",
        "--event",
        "user.created",
        "--signing-key",
        &signing_key,
        &target,
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines = listen.until("POST /hook valid provider=standard event=user.created id=msg_");
    assert!(!lines.is_empty());
    let run = hookguard(&[
        "send",
        "--provider",
        "standard",
        "--event",
        "user.created",
        "--signing-key",
        &forger,
        &target,
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    listen.until("POST /hook invalid provider=standard reason=\"signature mismatch\"");
}

fn spawn_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
