//! Signature headers: any number of values, any bytes HTTP allows, against a fixed body
//! and secret, under hex, base64 and timestamped schemes. Never a panic, and never a
//! pass unless the input spells the real tag.
#![no_main]

use std::sync::LazyLock;

use hookguard::secret::SecretSet;
use hookguard::signature::{Encoding, SignedContent, Verifier};
use hookguard::{Secret, SignatureScheme};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret";
const BODY: &[u8] = include_bytes!("../../tests/fixtures/claimr/user_activity.json");
const TIMESTAMP: &str = "1700000000";

struct Case {
    verifier: Verifier,
    /// The real tag as the scheme writes it, less padding and prefix, lowercase.
    tag: String,
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
            let text = value.to_str().unwrap();
            let text = text.strip_prefix(scheme.prefix().unwrap_or("")).unwrap();
            let tag = text.trim_end_matches('=').to_ascii_lowercase();
            assert_eq!(scheme.header(), header);
            Case {
                verifier: Verifier::new(scheme, SecretSet::new([secret]).unwrap()),
                tag,
            }
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert("x-timestamp", HeaderValue::from_static(TIMESTAMP));
    // One header value per line; bytes HTTP refuses in a value cannot arrive at all.
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-signature", value);
        }
    }
    let lowercase = String::from_utf8_lossy(data).to_ascii_lowercase();
    for case in CASES.iter() {
        if case.verifier.verify(&headers, BODY).is_ok() {
            assert!(
                lowercase.contains(&case.tag),
                "verified without the real tag: {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
});
