//! Interoperability with signers no one here wrote: the reference Python library of the
//! Standard Webhooks spec (`standardwebhooks`) and Svix's (`svix`) sign real requests that
//! the example receiver must accept (and print), and tampered ones it must refuse; and
//! both libraries must accept what hookguard signs.
//!
//! Asymmetric (`v1a`, ed25519) signatures are checked the same way against PyNaCl
//! (libsodium): it signs deliveries with a `whsk_` seed and derives the `whpk_` public
//! key the example receiver is given, and it verifies what hookguard signs.
//!
//! The libraries come from a Python virtual environment whose interpreter is named by
//! `HOOKGUARD_PY` (`.ci/run` makes one). Without it the test fails in CI (`CI=true`) and,
//! elsewhere, says loudly that it did not run.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hookguard::secret::SigningKey;
use hookguard::{Secret, Standard};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use support::*;

/// The Python interpreter with both libraries, or `None` outside CI when there is none.
fn python() -> Option<PathBuf> {
    match std::env::var_os("HOOKGUARD_PY") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.exists(),
                "HOOKGUARD_PY names {}, which does not exist",
                path.display()
            );
            Some(path)
        }
        None if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!(
                "HOOKGUARD_PY is not set: CI must run the Standard Webhooks interop test \
                 (.ci/run creates the virtual environment and sets it)"
            )
        }
        None => {
            // Straight to the process's stderr: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !! interop test NOT RUN: HOOKGUARD_PY is not set.                         !!\n\
                 !! Run `bash .ci/run`, or: python3 -m venv /tmp/hookguard-py &&           !!\n\
                 !!   /tmp/hookguard-py/bin/pip install standardwebhooks svix PyNaCl &&    !!\n\
                 !!   HOOKGUARD_PY=/tmp/hookguard-py/bin/python cargo test --test interop  !!\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            None
        }
    }
}

/// Runs `tests/interop/sign.py` on `job`.
fn run_python(python: &PathBuf, job: &Value) -> Value {
    let script = format!("{}/tests/interop/sign.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// One delivery: what the Python library signs, and what the receiver must do with it.
struct Delivery {
    lib: &'static str,
    secret: &'static str,
    id: &'static str,
    timestamp: i64,
    payload: &'static str,
}

fn request(id: &str, timestamp: &str, signature: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post("/webhooks/standard")
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

#[tokio::test]
async fn reference_libraries_sign_what_the_example_receiver_accepts() {
    let Some(python) = python() else { return };
    let now = unix_now();
    let bare_secret = STANDARD_SECRET.trim_start_matches("whsec_");
    let accepted = [
        Delivery {
            lib: "standardwebhooks",
            secret: STANDARD_SECRET,
            id: "msg_interop_standard_1",
            timestamp: now,
            payload: r#"{"type":"invoice.paid","timestamp":"2024-05-14T09:31:02Z","data":{"amount":"12.50","note":"café ☕"}}"#,
        },
        Delivery {
            lib: "svix",
            secret: bare_secret,
            id: "msg_interop_svix_1",
            timestamp: now - 60,
            payload: r#"{"type":"user.created","data":{"id":"u_1"}}"#,
        },
        Delivery {
            lib: "svix",
            secret: STANDARD_SECRET,
            id: "msg_interop_svix_2",
            timestamp: now + 60,
            payload: r#"{"data":{"untyped":true}}"#,
        },
    ];
    // Correctly signed, but an hour old or an hour ahead: outside the window.
    let stale = [
        Delivery {
            lib: "standardwebhooks",
            secret: STANDARD_SECRET,
            id: "msg_interop_old",
            timestamp: now - 3_600,
            payload: r#"{"type":"invoice.paid"}"#,
        },
        Delivery {
            lib: "svix",
            secret: STANDARD_SECRET,
            id: "msg_interop_future",
            timestamp: now + 3_600,
            payload: r#"{"type":"invoice.paid"}"#,
        },
    ];
    let sign: Vec<Value> = accepted
        .iter()
        .chain(&stale)
        .map(|d| {
            json!({"lib": d.lib, "secret": d.secret, "id": d.id, "timestamp": d.timestamp, "payload": d.payload})
        })
        .collect();
    let result = run_python(&python, &json!({ "sign": sign }));
    eprintln!("signed with {}", result["versions"]);
    let signatures: Vec<String> = result["signed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(signatures.len(), accepted.len() + stale.len());

    let receiver = start_example_receiver();
    let client = http_client();

    // Accepted, each printing its JSON line.
    for (delivery, signature) in accepted.iter().zip(&signatures) {
        let (status, text) = send_to(
            &client,
            &receiver.base,
            request(
                delivery.id,
                &delivery.timestamp.to_string(),
                signature,
                delivery.payload,
            ),
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, "ok"),
            "{}",
            delivery.id
        );
        let line = receiver
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a JSON line per accepted delivery");
        let body: Value = serde_json::from_str(delivery.payload).unwrap();
        let event = body["type"].as_str().unwrap_or("");
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            json!({"provider": "standard", "event": event, "id": delivery.id})
        );
    }

    // Refused: outside the window, tampered in every signed part, or mis-signed.
    let fresh = &accepted[0];
    let good = &signatures[0];
    let ts = fresh.timestamp.to_string();
    let mut flipped = good.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let mut refused = vec![
        (
            "tampered body",
            request(fresh.id, &ts, good, &fresh.payload.replace("12.50", "1250")),
        ),
        (
            "another id",
            request("msg_interop_other", &ts, good, fresh.payload),
        ),
        (
            "timestamp one second off",
            request(
                fresh.id,
                &(fresh.timestamp + 1).to_string(),
                good,
                fresh.payload,
            ),
        ),
        (
            "flipped signature",
            request(fresh.id, &ts, &flipped, fresh.payload),
        ),
        (
            "unknown version",
            request(
                fresh.id,
                &ts,
                &good.replacen("v1,", "v2,", 1),
                fresh.payload,
            ),
        ),
        (
            "truncated signature",
            request(fresh.id, &ts, &good[..20], fresh.payload),
        ),
        (
            "empty signature",
            request(fresh.id, &ts, "v1,", fresh.payload),
        ),
    ];
    for (delivery, signature) in stale.iter().zip(&signatures[accepted.len()..]) {
        refused.push((
            delivery.id,
            request(
                delivery.id,
                &delivery.timestamp.to_string(),
                signature,
                delivery.payload,
            ),
        ));
    }
    for (what, request) in refused {
        let (status, text) = send_to(&client, &receiver.base, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {text}");
        assert!(text.starts_with("unauthorized: "), "{what}: {text}");
    }
    assert!(
        receiver
            .lines
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "no line for a refused delivery"
    );
}

#[test]
fn reference_libraries_accept_what_hookguard_signs() {
    let Some(python) = python() else { return };
    let now = unix_now();
    let payload = r#"{"type":"invoice.paid","data":{"amount":"12.50","note":"café ☕"}}"#;
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static("msg_hookguard_1"));
    headers.insert("webhook-timestamp", HeaderValue::from(now));
    let signature = Standard::default_scheme()
        .sign(
            &Secret::from_standard(STANDARD_SECRET).unwrap(),
            &headers,
            payload.as_bytes(),
        )
        .unwrap();
    let signature = signature.to_str().unwrap();
    let item = |lib: &str, payload: &str| {
        json!({"lib": lib, "secret": STANDARD_SECRET, "id": "msg_hookguard_1",
               "timestamp": now, "payload": payload, "signature": signature})
    };
    let tampered = payload.replace("12.50", "1250");
    let result = run_python(
        &python,
        &json!({"verify": [
            item("standardwebhooks", payload),
            item("svix", payload),
            item("standardwebhooks", &tampered),
            item("svix", &tampered),
        ]}),
    );
    assert_eq!(result["verified"], json!([true, true, false, false]));
}

/// `HOOKGUARD_PY`, once it is known to hold PyNaCl too (an environment made before the
/// asymmetric tests lacks it).
fn python_with_pynacl() -> Option<PathBuf> {
    let python = python()?;
    let status = Command::new(&python)
        .args(["-c", "import nacl.signing"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{} lacks PyNaCl: `{} -m pip install PyNaCl==1.5.0` (as .ci/run does)",
        python.display(),
        python.display()
    );
    Some(python)
}

/// `whsk_` and the base64 of a 32-byte seed.
fn whsk(seed: &[u8; 32]) -> String {
    format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD.encode(seed)
    )
}

#[tokio::test]
async fn pynacl_signs_v1a_deliveries_the_example_receiver_accepts() {
    let Some(python) = python_with_pynacl() else {
        return;
    };
    let now = unix_now();
    let signing_key = whsk(b"hookguard-interop-ed25519-seed-1");
    let other_key = whsk(b"hookguard-interop-ed25519-seed-2");
    let job = |key: &str, id: &str, timestamp: i64, payload: &str| json!({"signing_key": key, "id": id, "timestamp": timestamp, "payload": payload});
    let payload = r#"{"type":"invoice.paid","data":{"amount":"12.50","note":"café ☕"}}"#;
    let untyped = r#"{"data":{"untyped":true}}"#;
    let result = run_python(
        &python,
        &json!({"sign_v1a": [
            job(&signing_key, "msg_v1a_1", now, payload),
            job(&signing_key, "msg_v1a_2", now - 60, untyped),
            job(&signing_key, "msg_v1a_old", now - 3_600, payload),
            job(&other_key, "msg_v1a_other", now, payload),
        ]}),
    );
    eprintln!("signed with {}", result["versions"]);
    let signed = result["signed_v1a"].as_array().unwrap();
    let signature = |n: usize| signed[n]["signature"].as_str().unwrap().to_owned();
    let public_key = signed[0]["public_key"].as_str().unwrap().to_owned();
    // PyNaCl and hookguard derive the same public key from the seed.
    assert_eq!(
        SigningKey::from_standard(&signing_key)
            .unwrap()
            .public_key()
            .to_string(),
        public_key
    );
    let good = signature(0);
    assert!(good.starts_with("v1a,"), "{good}");

    // A v1 signature by the reference library, for the mixed headers.
    let v1 = run_python(
        &python,
        &json!({"sign": [{"lib": "standardwebhooks", "secret": STANDARD_SECRET,
                          "id": "msg_v1a_3", "timestamp": now, "payload": payload}]}),
    );
    let v1 = v1["signed"][0].as_str().unwrap().to_owned();
    let mixed = run_python(
        &python,
        &json!({"sign_v1a": [job(&signing_key, "msg_v1a_3", now, payload)]}),
    );
    let mixed_v1a = mixed["signed_v1a"][0]["signature"]
        .as_str()
        .unwrap()
        .to_owned();

    let receiver = start_example_receiver_with(&[("STANDARD_PUBLIC_KEY", &public_key)]);
    let client = http_client();
    let bogus_v1 = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    let accepted = [
        ("msg_v1a_1", now, good.clone(), payload),
        ("msg_v1a_2", now - 60, signature(1), untyped),
        // A wrong v1 entry before the good v1a one.
        ("msg_v1a_1", now, format!("{bogus_v1} {good}"), payload),
        // Both kinds, each valid.
        ("msg_v1a_3", now, format!("{v1} {mixed_v1a}"), payload),
        // A valid v1 entry beside a v1a entry signed by a stranger.
        ("msg_v1a_3", now, format!("{} {v1}", signature(3)), payload),
    ];
    for (id, timestamp, signature, body) in &accepted {
        let (status, text) = send_to(
            &client,
            &receiver.base,
            request(id, &timestamp.to_string(), signature, body),
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, "ok"),
            "{signature}"
        );
        let line = receiver
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a JSON line per accepted delivery");
        let parsed: Value = serde_json::from_str(body).unwrap();
        let event = parsed["type"].as_str().unwrap_or("");
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            json!({"provider": "standard", "event": event, "id": id})
        );
    }

    // Refused: one byte changed in each signed part or in the signature, another key
    // pair, a v1a signature under the v1 label, and a correctly signed but old one.
    let ts = now.to_string();
    let mut flipped = good.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let refused = [
        (
            "tampered body",
            request("msg_v1a_1", &ts, &good, &payload.replace("12.50", "12.51")),
        ),
        ("another id", request("msg_v1a_2", &ts, &good, payload)),
        (
            "timestamp one second off",
            request("msg_v1a_1", &(now + 1).to_string(), &good, payload),
        ),
        (
            "flipped signature",
            request("msg_v1a_1", &ts, &flipped, payload),
        ),
        (
            "another key pair",
            request("msg_v1a_other", &ts, &signature(3), payload),
        ),
        (
            "v1a signature labelled v1",
            request("msg_v1a_1", &ts, &good.replacen("v1a,", "v1,", 1), payload),
        ),
        (
            "truncated v1a",
            request("msg_v1a_1", &ts, &good[..60], payload),
        ),
        (
            "outside the window",
            request(
                "msg_v1a_old",
                &(now - 3_600).to_string(),
                &signature(2),
                payload,
            ),
        ),
    ];
    for (what, request) in refused {
        let (status, text) = send_to(&client, &receiver.base, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {text}");
        assert!(text.starts_with("unauthorized: "), "{what}: {text}");
    }
    assert!(
        receiver
            .lines
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "no line for a refused delivery"
    );
}

#[test]
fn pynacl_accepts_the_v1a_signatures_hookguard_makes() {
    let Some(python) = python_with_pynacl() else {
        return;
    };
    let now = unix_now();
    let signing_key = whsk(b"hookguard-interop-ed25519-seed-3");
    let public_key = SigningKey::from_standard(&signing_key)
        .unwrap()
        .public_key()
        .to_string();
    let payload = r#"{"type":"invoice.paid","data":{"amount":"12.50","note":"café ☕"}}"#;
    let alone = Standard::asymmetric_signer(&signing_key)
        .unwrap()
        .at(now)
        .with_message_id("msg_hookguard_v1a")
        .headers(payload.as_bytes())
        .unwrap();
    let both = Standard::signer(STANDARD_SECRET)
        .unwrap()
        .with_signing_key(SigningKey::from_standard(&signing_key).unwrap())
        .unwrap()
        .at(now)
        .with_message_id("msg_hookguard_v1a")
        .headers(payload.as_bytes())
        .unwrap();
    let item = |headers: &HeaderMap, payload: &str| {
        json!({"public_key": public_key, "id": "msg_hookguard_v1a", "timestamp": now,
               "payload": payload,
               "signature": headers["webhook-signature"].to_str().unwrap()})
    };
    let tampered = payload.replace("12.50", "1250");
    let result = run_python(
        &python,
        &json!({"verify_v1a": [
            item(&alone, payload),
            item(&both, payload),
            item(&alone, &tampered),
            item(&both, &tampered),
        ]}),
    );
    assert_eq!(result["verified_v1a"], json!([true, true, false, false]));
    // The v1 entry of the mixed header is the reference library's too.
    let v1 = both["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let result = run_python(
        &python,
        &json!({"verify": [{"lib": "standardwebhooks", "secret": STANDARD_SECRET,
                            "id": "msg_hookguard_v1a", "timestamp": now,
                            "payload": payload, "signature": v1}]}),
    );
    assert_eq!(result["verified"], json!([true]));
}
