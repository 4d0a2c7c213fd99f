//! Properties of signing and verifying, over arbitrary bytes and secrets: what is signed
//! verifies; any single-bit change to the body, the signature or a signed timestamp does
//! not; partial, empty and over-long signatures never verify and never panic; every
//! candidate signature is considered, wherever it stands.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use hookguard::secret::SecretSet;
use hookguard::signature::{Encoding, SignedContent, Verifier};
use hookguard::{ConfigError, Secret, SignatureError, SignatureScheme};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use proptest::prelude::*;

const TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");

/// Every scheme shape the crate offers: hex or base64, with or without a prefix, body or
/// timestamp-then-body.
fn schemes() -> impl Strategy<Value = SignatureScheme> {
    (
        prop_oneof![Just(Encoding::Hex), Just(Encoding::Base64)],
        prop_oneof![Just(None), Just(Some("sha256=")), Just(Some("v1="))],
        any::<bool>(),
    )
        .prop_map(|(encoding, prefix, timestamped)| {
            let scheme = SignatureScheme::new("x-signature")
                .unwrap()
                .with_encoding(encoding)
                .with_prefix(prefix);
            if timestamped {
                scheme.with_signed_content(
                    SignedContent::template("{header:x-timestamp}.{body}").unwrap(),
                )
            } else {
                scheme
            }
        })
}

fn secrets() -> impl Strategy<Value = Vec<u8>> {
    // Past 64 bytes HMAC hashes the key first: both paths are covered.
    proptest::collection::vec(any::<u8>(), 1..160)
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

/// A unix-seconds timestamp as senders write it.
fn timestamps() -> impl Strategy<Value = String> {
    (0u64..=9_999_999_999).prop_map(|seconds| seconds.to_string())
}

fn verifier(scheme: &SignatureScheme, secret: &[u8]) -> Verifier {
    Verifier::new(
        scheme.clone(),
        SecretSet::new([Secret::new(secret).unwrap()]).unwrap(),
    )
}

/// The headers of a delivery of `body`, signed under `scheme`.
fn signed_headers(
    scheme: &SignatureScheme,
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(TIMESTAMP, HeaderValue::from_str(timestamp).unwrap());
    let value = scheme
        .sign(&Secret::new(secret).unwrap(), &headers, body)
        .unwrap();
    headers.insert(scheme.header(), value);
    headers
}

/// The signature header's text, less the scheme's prefix.
fn encoded_tag(scheme: &SignatureScheme, headers: &HeaderMap) -> String {
    let value = headers[scheme.header()].to_str().unwrap();
    let prefix = scheme.prefix().unwrap_or("");
    value.strip_prefix(prefix).unwrap().to_owned()
}

fn encode(encoding: Encoding, tag: &[u8]) -> String {
    use base64::Engine as _;
    match encoding {
        Encoding::Hex => hex::encode(tag),
        _ => base64::engine::general_purpose::STANDARD.encode(tag),
    }
}

fn decode(encoding: Encoding, text: &str) -> Vec<u8> {
    use base64::Engine as _;
    match encoding {
        Encoding::Hex => hex::decode(text).unwrap(),
        _ => base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    }
}

fn flip(bytes: &mut [u8], bit: usize) {
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn what_is_signed_verifies(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
    ) {
        let headers = signed_headers(&scheme, &secret, &timestamp, &body);
        prop_assert_eq!(verifier(&scheme, &secret).verify(&headers, &body), Ok(()));
    }

    #[test]
    fn any_bit_flipped_in_the_body_is_refused(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in proptest::collection::vec(any::<u8>(), 1..2048),
        bit in any::<usize>(),
    ) {
        let headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let mut tampered = body.clone();
        flip(&mut tampered, bit);
        prop_assert_eq!(
            verifier(&scheme, &secret).verify(&headers, &tampered),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_bit_flipped_in_the_signature_is_refused(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
        bit in any::<usize>(),
    ) {
        let mut headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let mut tag = decode(scheme.encoding(), &encoded_tag(&scheme, &headers));
        flip(&mut tag, bit);
        let value = format!("{}{}", scheme.prefix().unwrap_or(""), encode(scheme.encoding(), &tag));
        headers.insert(scheme.header(), HeaderValue::from_str(&value).unwrap());
        prop_assert_eq!(
            verifier(&scheme, &secret).verify(&headers, &body),
            Err(SignatureError::Mismatch)
        );
    }

    /// Flipping a bit of the header's text rather than of the tag: refused, except where
    /// the new text still spells the same tag (hex read in either case).
    #[test]
    fn any_bit_flipped_in_the_signature_text_is_refused(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
        bit in any::<usize>(),
    ) {
        let mut headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let original = headers[scheme.header()].as_bytes().to_vec();
        let mut text = original.clone();
        flip(&mut text, bit);
        let index = (bit % (text.len() * 8)) / 8;
        // Bytes HTTP does not allow in a header value cannot be sent at all.
        let Ok(value) = HeaderValue::from_bytes(&text) else { return Ok(()) };
        headers.insert(scheme.header(), value);
        let result = verifier(&scheme, &secret).verify(&headers, &body);
        let prefix_len = scheme.prefix().map_or(0, str::len);
        let same_tag = scheme.encoding() == Encoding::Hex
            && index >= prefix_len
            && text[index].eq_ignore_ascii_case(&original[index]);
        if same_tag {
            prop_assert_eq!(result, Ok(()));
        } else {
            prop_assert!(result.is_err(), "{:?} verified", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn any_bit_flipped_in_a_signed_timestamp_is_refused(
        encoding in prop_oneof![Just(Encoding::Hex), Just(Encoding::Base64)],
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
        bit in any::<usize>(),
    ) {
        let scheme = SignatureScheme::new("x-signature")
            .unwrap()
            .with_encoding(encoding)
            .with_signed_content(SignedContent::template("{header:x-timestamp}.{body}").unwrap());
        let mut headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let mut changed = timestamp.clone().into_bytes();
        flip(&mut changed, bit);
        let Ok(value) = HeaderValue::from_bytes(&changed) else { return Ok(()) };
        headers.insert(TIMESTAMP, value);
        prop_assert_eq!(
            verifier(&scheme, &secret).verify(&headers, &body),
            Err(SignatureError::Mismatch)
        );
        headers.remove(TIMESTAMP);
        prop_assert_eq!(
            verifier(&scheme, &secret).verify(&headers, &body),
            Err(SignatureError::Missing)
        );
    }

    /// The peer bug where `v1,` verified: every proper prefix of a real signature
    /// (empty included), alone, after a version tag, or after the scheme's prefix, is
    /// refused.
    #[test]
    fn partial_signatures_never_verify(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
        cut in any::<usize>(),
        wrapper in prop_oneof![Just("{}"), Just("v1,{}"), Just("v1={}"), Just("sha256={}"), Just("{},")],
    ) {
        let mut headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let tag = encoded_tag(&scheme, &headers);
        // Base64 without its padding is the same tag, so cut before the padding.
        let full = tag.trim_end_matches('=').len();
        let partial = &tag[..cut % full];
        let value = wrapper.replace("{}", partial);
        headers.insert(scheme.header(), HeaderValue::from_str(&value).unwrap());
        let result = verifier(&scheme, &secret).verify(&headers, &body);
        prop_assert!(result.is_err(), "{value:?} verified");
    }

    /// Header values of any length and any bytes HTTP allows: an answer, never a panic,
    /// and never a pass without the real tag.
    #[test]
    fn arbitrary_header_values_never_panic_or_pass(
        scheme in schemes(),
        values in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..200),
            0..6,
        ),
        body in bodies(),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP, HeaderValue::from_static("1700000000"));
        for value in &values {
            headers.append(scheme.header(), HeaderValue::from_bytes(value).unwrap());
        }
        let result = verifier(&scheme, b"a secret").verify(&headers, &body);
        prop_assert!(result.is_err());
        if values.is_empty() {
            prop_assert_eq!(result, Err(SignatureError::Missing));
        }
    }

    /// The peer bug where only the last signature was read: the right one is found
    /// wherever it stands among decoys, in one header or across several.
    #[test]
    fn every_candidate_is_considered(
        scheme in schemes(),
        secret in secrets(),
        timestamp in timestamps(),
        body in bodies(),
        decoys in 0usize..15,
        position in any::<usize>(),
        layout in 0u8..3,
    ) {
        let mut headers = signed_headers(&scheme, &secret, &timestamp, &body);
        let good = headers[scheme.header()].to_str().unwrap().to_owned();
        let mut candidates: Vec<String> = (0..decoys)
            .map(|i| {
                let mut tag = decode(scheme.encoding(), &encoded_tag(&scheme, &headers));
                let at = i % tag.len();
                tag[at] ^= 0x80;
                format!("{}{}", scheme.prefix().unwrap_or(""), encode(scheme.encoding(), &tag))
            })
            .collect();
        let install = |headers: &mut HeaderMap, candidates: &[String]| {
            headers.remove(scheme.header());
            match layout {
                0 | 1 => {
                    let value = candidates.join(if layout == 0 { ", " } else { " " });
                    headers.insert(scheme.header(), HeaderValue::from_str(&value).unwrap());
                }
                _ => {
                    for candidate in candidates {
                        headers.append(scheme.header(), HeaderValue::from_str(candidate).unwrap());
                    }
                }
            }
        };
        let verifier = verifier(&scheme, &secret);
        if decoys > 0 {
            // The decoys alone do not pass.
            install(&mut headers, &candidates);
            prop_assert_eq!(verifier.verify(&headers, &body), Err(SignatureError::Mismatch));
        }
        candidates.insert(position % (decoys + 1), good);
        install(&mut headers, &candidates);
        prop_assert_eq!(verifier.verify(&headers, &body), Ok(()));
    }

    /// Rotation: a delivery signed by any one of several secrets verifies; one signed by
    /// a secret outside the set does not.
    #[test]
    fn any_secret_of_a_set_verifies_and_no_other(
        scheme in schemes(),
        set in proptest::collection::vec(secrets(), 1..5),
        pick in any::<usize>(),
        outsider in secrets(),
        timestamp in timestamps(),
        body in bodies(),
    ) {
        prop_assume!(!set.contains(&outsider));
        let verifier = Verifier::new(
            scheme.clone(),
            SecretSet::new(set.iter().map(|s| Secret::new(s).unwrap())).unwrap(),
        );
        let headers = signed_headers(&scheme, &set[pick % set.len()], &timestamp, &body);
        prop_assert_eq!(verifier.verify(&headers, &body), Ok(()));
        let headers = signed_headers(&scheme, &outsider, &timestamp, &body);
        prop_assert_eq!(verifier.verify(&headers, &body), Err(SignatureError::Mismatch));
    }

    #[test]
    fn only_the_empty_secret_is_refused(secret in proptest::collection::vec(any::<u8>(), 0..8)) {
        match Secret::new(&secret) {
            Ok(_) => prop_assert!(!secret.is_empty()),
            Err(err) => {
                prop_assert!(secret.is_empty());
                prop_assert_eq!(err, ConfigError::EmptySecret);
            }
        }
    }
}
