//! Signature headers: any number of values, any bytes HTTP allows, against a fixed body
//! and secret, under hex, base64 and timestamped schemes, and under Standard Webhooks
//! with a secret and an ed25519 public key (`v1` and `v1a` entries). Never a panic, and
//! never a pass unless the input spells a real tag or signature.
#![no_main]

use std::sync::LazyLock;

use hookguard::clock::ManualClock;
use hookguard::secret::{SecretSet, SigningKey};
use hookguard::signature::{Encoding, SignedContent, Verifier};
use hookguard::{Secret, SignatureScheme, Standard};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret";
const BODY: &[u8] = include_bytes!("../../tests/fixtures/claimr/user_activity.json");
const TIMESTAMP: &str = "1700000000";
/// The Standard Webhooks case: the same secret, as base64, and a signing key's seed.
const STANDARD_SECRET: &str = "whsec_ZnV6ei1zZWNyZXQ=";
const SIGNING_SEED: [u8; 32] = *b"hookguard-fuzz-ed25519-seed-0001";
const MESSAGE_ID: &str = "msg_fuzz";

struct Case {
    verifier: Verifier,
    /// The real tags (or signatures) as the scheme writes them, less padding and
    /// version or prefix, lowercase.
    tags: Vec<String>,
}

/// `value` less its version or prefix and padding, lowercase.
fn bare(value: &str, prefix: &str) -> String {
    let text = value.strip_prefix(prefix).unwrap();
    text.trim_end_matches('=').to_ascii_lowercase()
}

static CASES: LazyLock<Vec<Case>> = LazyLock::new(|| {
    let header = HeaderName::from_static("x-signature");
    let schemes = [
        SignatureScheme::new("x-signature").unwrap(),
        SignatureScheme::new("x-signature")
            .unwrap()
            .with_encoding(Encoding::Base64)
            .with_prefix(None),
        SignatureScheme::new("x-signature")
            .unwrap()
            .with_prefix(Some("v1,"))
            .with_signed_content(SignedContent::template("{header:x-timestamp}.{body}").unwrap()),
    ];
    schemes
        .into_iter()
        .map(|scheme| {
            let secret = Secret::new(SECRET).unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("x-timestamp", HeaderValue::from_static(TIMESTAMP));
            let value = scheme.sign(&secret, &headers, BODY).unwrap();
            let tag = bare(value.to_str().unwrap(), scheme.prefix().unwrap_or(""));
            assert_eq!(scheme.header(), header);
            Case {
                verifier: Verifier::new(scheme, SecretSet::new([secret]).unwrap()),
                tags: vec![tag],
            }
        })
        .chain([standard_case()])
        .collect()
});

/// Standard Webhooks with a secret and a public key: a `v1` tag or a `v1a` signature.
fn standard_case() -> Case {
    let key = SigningKey::from_seed(SIGNING_SEED);
    let standard = Standard::new(STANDARD_SECRET)
        .unwrap()
        .with_public_keys([key.public_key().to_string()])
        .unwrap()
        .with_clock(ManualClock::at_unix(TIMESTAMP.parse().unwrap()));
    let at = TIMESTAMP.parse().unwrap();
    let v1 = Standard::signer(STANDARD_SECRET)
        .unwrap()
        .at(at)
        .with_message_id(MESSAGE_ID)
        .headers(BODY)
        .unwrap();
    let v1a = Standard::asymmetric_signer(&key.expose_standard())
        .unwrap()
        .at(at)
        .with_message_id(MESSAGE_ID)
        .headers(BODY)
        .unwrap();
    let tags = vec![
        bare(v1["webhook-signature"].to_str().unwrap(), "v1,"),
        bare(v1a["webhook-signature"].to_str().unwrap(), "v1a,"),
    ];
    assert!(standard.verifier().verify(&v1a, BODY).is_ok());
    Case {
        verifier: standard.verifier().clone(),
        tags,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert("x-timestamp", HeaderValue::from_static(TIMESTAMP));
    headers.insert("webhook-timestamp", HeaderValue::from_static(TIMESTAMP));
    headers.insert("webhook-id", HeaderValue::from_static(MESSAGE_ID));
    // One header value per line; bytes HTTP refuses in a value cannot arrive at all.
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-signature", value.clone());
            headers.append("webhook-signature", value);
        }
    }
    let lowercase = String::from_utf8_lossy(data).to_ascii_lowercase();
    for case in CASES.iter() {
        if case.verifier.verify(&headers, BODY).is_ok() {
            assert!(
                case.tags.iter().any(|tag| lowercase.contains(tag)),
                "verified without the real tag: {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
});
