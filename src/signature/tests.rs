use std::time::Duration;

use base64::Engine as _;
use hmac::Mac;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::verifier::tags_equal;
use super::*;
use crate::clock::ManualClock;
use crate::error::ConfigError;
use crate::secret::{HmacSha256, Secret, SecretSet};

fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// RFC 4231 test cases 1, 2, 4 and 6 (case 3 and 5 are covered by the same code path;
/// case 5 truncates the output, which this crate never does).
#[test]
fn hex_tags_decode_in_either_case_and_refuse_any_other_byte() {
    let tag: [u8; TAG_LEN] = core::array::from_fn(|i| (i * 37 + 5) as u8);
    let lower = hex::encode(tag);
    assert_eq!(Encoding::Hex.decode_tag(lower.as_bytes()), Some(tag));
    assert_eq!(
        Encoding::Hex.decode_tag(lower.to_uppercase().as_bytes()),
        Some(tag)
    );
    for position in [0, 31, 63] {
        for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0xff, 0x00] {
            let mut text = lower.clone().into_bytes();
            text[position] = bad;
            assert_eq!(
                Encoding::Hex.decode_tag(&text),
                None,
                "{bad:#x} at {position}"
            );
        }
    }
    assert_eq!(Encoding::Hex.decode_tag(&lower.as_bytes()[..62]), None);
    // Every byte, at the high and the low digit of a pair, against the `hex` crate.
    for position in [10, 11] {
        for bad in 0..=u8::MAX {
            let mut text = lower.clone().into_bytes();
            text[position] = bad;
            let reference = hex::decode(&text)
                .ok()
                .map(|bytes| <[u8; TAG_LEN]>::try_from(bytes).unwrap());
            assert_eq!(
                Encoding::Hex.decode_tag(&text),
                reference,
                "{bad:#x} at {position}"
            );
        }
    }
}

#[test]
fn tags_are_equal_only_when_every_byte_is() {
    let tag = [0x5a_u8; TAG_LEN];
    assert!(bool::from(tags_equal(&tag, &tag)));
    for position in 0..TAG_LEN {
        for bit in 0..8 {
            let mut other = tag;
            other[position] ^= 1 << bit;
            assert!(
                !bool::from(tags_equal(&tag, &other)),
                "byte {position} bit {bit}"
            );
        }
    }
    assert!(!bool::from(tags_equal(&tag[..31], &tag)));
}

#[test]
fn rfc4231_known_answers() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 4] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            (0x01..=0x19).collect(),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, data, expected) in cases {
        assert_eq!(hmac_hex(&key, &data), expected);
        // The same through the crate's own path: Secret -> scheme -> verify.
        let secret = Secret::new(&key).unwrap();
        let scheme = crate::Claimr::default_scheme().with_prefix(None);
        let mut headers = HeaderMap::new();
        headers.insert(
            scheme.header(),
            scheme.sign(&secret, &headers, &data).unwrap(),
        );
        assert_eq!(headers[scheme.header()].to_str().unwrap(), expected);
        let verifier = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
        assert_eq!(verifier.verify(&headers, &data), Ok(()));
    }
}

fn verifier(secrets: &[&str]) -> Verifier {
    let set = SecretSet::new(secrets.iter().map(|s| Secret::new(s).unwrap())).unwrap();
    Verifier::new(crate::Claimr::default_scheme(), set)
}

fn headers_with(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append("x-claimr-signature", HeaderValue::from_str(v).unwrap());
    }
    headers
}

const BODY: &[u8] = b"{\"id\":\"m1\",\"scope\":\"user_login\"}";

#[test]
fn accepts_bare_and_prefixed_hex_in_either_case() {
    let tag = hmac_hex(b"k1", BODY);
    let v = verifier(&["k1"]);
    for value in [tag.clone(), format!("sha256={tag}"), tag.to_uppercase()] {
        assert_eq!(v.verify(&headers_with(&[&value]), BODY), Ok(()), "{value}");
    }
}

#[test]
fn tampered_body_signature_or_secret_fail() {
    let tag = hmac_hex(b"k1", BODY);
    let v = verifier(&["k1"]);
    assert_eq!(
        v.verify(&headers_with(&[&tag]), b"{\"id\":\"m2\"}"),
        Err(SignatureError::Mismatch)
    );
    let mut flipped = tag.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_eq!(
        v.verify(&headers_with(&[&flipped]), BODY),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verifier(&["k2"]).verify(&headers_with(&[&tag]), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn rotation_accepts_any_configured_secret() {
    let v = verifier(&["old", "new"]);
    for key in ["old", "new"] {
        let tag = hmac_hex(key.as_bytes(), BODY);
        assert_eq!(v.verify(&headers_with(&[&tag]), BODY), Ok(()));
    }
    let tag = hmac_hex(b"other", BODY);
    assert_eq!(
        v.verify(&headers_with(&[&tag]), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn several_signatures_in_one_header_or_several_headers() {
    let good = hmac_hex(b"k1", BODY);
    let decoy = hmac_hex(b"decoy", BODY);
    let v = verifier(&["k1"]);
    assert_eq!(
        v.verify(&headers_with(&[&format!("{decoy}, sha256={good}")]), BODY),
        Ok(())
    );
    assert_eq!(
        v.verify(&headers_with(&[&format!("{good} {decoy}")]), BODY),
        Ok(())
    );
    assert_eq!(v.verify(&headers_with(&[&decoy, &good]), BODY), Ok(()));
    assert_eq!(
        v.verify(&headers_with(&[&decoy]), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn empty_truncated_prefix_only_and_overlong_never_verify() {
    let tag = hmac_hex(b"k1", BODY);
    let v = verifier(&["k1"]);
    assert_eq!(
        v.verify(&HeaderMap::new(), BODY),
        Err(SignatureError::Missing)
    );
    for value in [
        String::new(),
        "sha256=".to_owned(),
        tag[..63].to_owned(),
        tag[..32].to_owned(),
        format!("{tag}00"),
        "zz".repeat(32),
    ] {
        assert_eq!(
            v.verify(&headers_with(&[&value]), BODY),
            Err(SignatureError::Malformed),
            "{value:?}"
        );
    }
}

#[test]
fn base64_and_timestamped_content() {
    let secret = Secret::new("k1").unwrap();
    let scheme = SignatureScheme::new("X-Signature")
        .unwrap()
        .with_encoding(Encoding::Base64)
        .with_prefix(None)
        .with_timestamp(TimestampSource::header("x-timestamp").unwrap())
        .with_signed_content("{timestamp}.{body}".parse().unwrap())
        .with_clock(ManualClock::at_unix(1_700_000_000));
    scheme.validate().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-timestamp", HeaderValue::from_static("1700000000"));
    assert_eq!(
        scheme.sign(&secret, &HeaderMap::new(), BODY),
        Err(SignatureError::Missing)
    );
    let value = scheme.sign(&secret, &headers, BODY).unwrap();
    let mut mac = HmacSha256::new_from_slice(b"k1").unwrap();
    mac.update(b"1700000000.");
    mac.update(BODY);
    assert_eq!(
        value.to_str().unwrap(),
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    headers.insert("x-signature", value);
    let v = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
    assert_eq!(v.verify(&headers, BODY), Ok(()));
    headers.insert("x-timestamp", HeaderValue::from_static("1700000001"));
    assert_eq!(v.verify(&headers, BODY), Err(SignatureError::Mismatch));
    headers.remove("x-timestamp");
    assert_eq!(v.verify(&headers, BODY), Err(SignatureError::Missing));
}

#[test]
fn invalid_header_name_is_a_config_error() {
    assert!(matches!(
        SignatureScheme::new("bad header"),
        Err(ConfigError::InvalidHeaderName(_))
    ));
}

// ---- GitHub ----

/// GitHub's documentation ("Validating webhook deliveries", testing the webhook
/// payload validation): secret `It's a Secret to Everybody`, payload `Hello, World!`.
#[test]
fn github_documented_vector() {
    const EXPECTED: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let secret = Secret::new("It's a Secret to Everybody").unwrap();
    let scheme = crate::HmacSender::github_scheme();
    assert_eq!(scheme.header(), "x-hub-signature-256");
    let value = scheme
        .sign(&secret, &HeaderMap::new(), b"Hello, World!")
        .unwrap();
    assert_eq!(value, format!("sha256={EXPECTED}").as_str());

    let v = Verifier::new(scheme, SecretSet::new([secret]).unwrap());
    let mut headers = HeaderMap::new();
    headers.insert("x-hub-signature-256", value);
    assert_eq!(v.verify(&headers, b"Hello, World!"), Ok(()));
    assert_eq!(
        v.verify(&headers, b"Hello, World?"),
        Err(SignatureError::Mismatch)
    );
}

// ---- Stripe-style ----

/// Computed outside this crate, with Python's `hmac` and with
/// `printf '%s' '1492774577.{"id":"evt_test_webhook","object":"event"}' |
/// openssl dgst -sha256 -hmac whsec_test_secret` (both agree).
const STRIPE_SECRET: &str = "whsec_test_secret";
const STRIPE_T: i64 = 1_492_774_577;
const STRIPE_BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
const STRIPE_V1: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";

fn stripe_verifier(now: i64) -> Verifier {
    Verifier::new(
        crate::HmacSender::stripe_scheme().with_clock(ManualClock::at_unix(now)),
        SecretSet::new([Secret::new(STRIPE_SECRET).unwrap()]).unwrap(),
    )
}

fn stripe_headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("stripe-signature", HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn stripe_style_vector() {
    let scheme = crate::HmacSender::stripe_scheme();
    scheme.validate().unwrap();
    let value = scheme
        .sign_at(
            &Secret::new(STRIPE_SECRET).unwrap(),
            &HeaderMap::new(),
            STRIPE_BODY,
            STRIPE_T,
        )
        .unwrap();
    assert_eq!(value, format!("t={STRIPE_T},v1={STRIPE_V1}").as_str());

    let v = stripe_verifier(STRIPE_T + 10);
    let decoy = "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
    for accepted in [
        format!("t={STRIPE_T},v1={STRIPE_V1}"),
        format!("t={STRIPE_T}, v1={decoy}, v1={STRIPE_V1}, v0={decoy}"),
        format!("v1={STRIPE_V1},t={STRIPE_T}"),
    ] {
        assert_eq!(
            v.verify(&stripe_headers(&accepted), STRIPE_BODY),
            Ok(()),
            "{accepted}"
        );
    }
    for (refused, why) in [
        (format!("t={STRIPE_T},v1={decoy}"), SignatureError::Mismatch),
        (
            format!("t={},v1={STRIPE_V1}", STRIPE_T + 1),
            SignatureError::Mismatch,
        ),
        (format!("v1={STRIPE_V1}"), SignatureError::Missing),
        (
            format!("t={STRIPE_T},v0={STRIPE_V1}"),
            SignatureError::Malformed,
        ),
        (format!("t={STRIPE_T},v1="), SignatureError::Malformed),
        (
            format!("t={STRIPE_T},v1={}", &STRIPE_V1[..63]),
            SignatureError::Malformed,
        ),
        (
            format!("t=soon,v1={STRIPE_V1}"),
            SignatureError::InvalidTimestamp,
        ),
    ] {
        assert_eq!(
            v.verify(&stripe_headers(&refused), STRIPE_BODY),
            Err(why),
            "{refused}"
        );
    }
    assert_eq!(
        v.verify(
            &stripe_headers(&format!("t={STRIPE_T},v1={STRIPE_V1}")),
            b"{}"
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_style_window() {
    let good = stripe_headers(&format!("t={STRIPE_T},v1={STRIPE_V1}"));
    for (now, expected) in [
        (STRIPE_T + 300, Ok(())),
        (STRIPE_T - 300, Ok(())),
        (STRIPE_T + 301, Err(SignatureError::TimestampOutOfWindow)),
        (STRIPE_T - 301, Err(SignatureError::TimestampOutOfWindow)),
    ] {
        assert_eq!(
            stripe_verifier(now).verify(&good, STRIPE_BODY),
            expected,
            "now {now}"
        );
    }
    let no_window = Verifier::new(
        crate::HmacSender::stripe_scheme()
            .without_tolerance()
            .with_clock(ManualClock::at_unix(STRIPE_T + 86_400)),
        SecretSet::new([Secret::new(STRIPE_SECRET).unwrap()]).unwrap(),
    );
    assert_eq!(no_window.verify(&good, STRIPE_BODY), Ok(()));
}

// ---- Standard Webhooks ----

/// The vector of the reference libraries' `sign` tests: standard-webhooks/standard-webhooks
/// `libraries/python/tests/test_webhooks.py` (`test_sign_function`), the same in
/// `libraries/javascript/src/webhook.test.ts` and `libraries/go/webhook_test.go`, and in
/// svix/svix-webhooks `python/tests/test_webhooks.py`.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TIMESTAMP: i64 = 1_614_265_330;
const SW_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
/// From the same files: a well-formed signature that is not the right one (the last
/// character differs), and the decoy used among several signatures.
const SW_WRONG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
const SW_DECOY: &str = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

/// standard-webhooks/standard-webhooks `libraries/rust/src/lib.rs` (`test_sign`,
/// `test_no_verify`, `test_no_verify_with_multiple_signatures`).
const RS_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const RS_MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const RS_TIMESTAMP: i64 = 1_649_367_553;
const RS_PAYLOAD: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const RS_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
const RS_WRONG: &str = "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=";
const RS_DECOYS: [&str; 3] = [
    "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
    "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
];

fn standard_verifier(secret: &str, now: i64) -> Verifier {
    Verifier::new(
        crate::Standard::default_scheme().with_clock(ManualClock::at_unix(now)),
        SecretSet::new([Secret::from_standard(secret).unwrap()]).unwrap(),
    )
}

fn standard_headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    headers.insert(
        "webhook-timestamp",
        HeaderValue::from_str(timestamp).unwrap(),
    );
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    headers
}

#[test]
fn standard_reference_sign_vectors() {
    for (secret, id, timestamp, payload, expected) in [
        (SW_SECRET, SW_MSG_ID, SW_TIMESTAMP, SW_PAYLOAD, SW_SIGNATURE),
        (RS_SECRET, RS_MSG_ID, RS_TIMESTAMP, RS_PAYLOAD, RS_SIGNATURE),
    ] {
        let scheme = crate::Standard::default_scheme();
        scheme.validate().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        let key = Secret::from_standard(secret).unwrap();
        assert_eq!(scheme.sign(&key, &headers, payload).unwrap(), expected);
        assert_eq!(
            scheme.sign_at(&key, &headers, payload, timestamp).unwrap(),
            expected
        );
        // Accepted at the signing time, with the secret with or without `whsec_`.
        let headers = standard_headers(id, &timestamp.to_string(), expected);
        for secret in [secret, secret.trim_start_matches("whsec_")] {
            assert_eq!(
                standard_verifier(secret, timestamp).verify(&headers, payload),
                Ok(()),
                "{secret}"
            );
        }
    }
}

#[test]
fn standard_reference_negative_vectors() {
    let ts = SW_TIMESTAMP.to_string();
    let v = standard_verifier(SW_SECRET, SW_TIMESTAMP);
    let check = |id: &str, timestamp: &str, signature: &str| {
        v.verify(&standard_headers(id, timestamp, signature), SW_PAYLOAD)
    };
    assert_eq!(check(SW_MSG_ID, &ts, SW_SIGNATURE), Ok(()));
    // A wrong signature, a partial one, `v1,` alone, and an undecodable one.
    assert_eq!(
        check(SW_MSG_ID, &ts, SW_WRONG),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(SW_MSG_ID, &ts, &SW_SIGNATURE[..8]),
        Err(SignatureError::Malformed)
    );
    assert_eq!(check(SW_MSG_ID, &ts, "v1,"), Err(SignatureError::Malformed));
    assert_eq!(
        check(SW_MSG_ID, &ts, "v1,dawfeoifkpqwoekfpqoekf"),
        Err(SignatureError::Malformed)
    );
    // The right signature under an unknown version is skipped.
    assert_eq!(
        check(SW_MSG_ID, &ts, &SW_SIGNATURE.replace("v1,", "v2,")),
        Err(SignatureError::Malformed)
    );
    // Decoys among several signatures, an unknown version among them.
    let several = format!("v1,{SW_DECOY} v2,{SW_DECOY} {SW_SIGNATURE} v1,{SW_DECOY}");
    assert_eq!(check(SW_MSG_ID, &ts, &several), Ok(()));
    let decoys = format!("v1,{SW_DECOY} v2,{SW_DECOY} v1,{SW_DECOY}");
    assert_eq!(
        check(SW_MSG_ID, &ts, &decoys),
        Err(SignatureError::Mismatch)
    );
    // The timestamp and the id are signed: one second off, or another id, fails.
    let one_off = (SW_TIMESTAMP + 1).to_string();
    assert_eq!(
        check(SW_MSG_ID, &one_off, SW_SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check("msg_other", &ts, SW_SIGNATURE),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(SW_MSG_ID, "hello", SW_SIGNATURE),
        Err(SignatureError::InvalidTimestamp)
    );
    // A missing id, timestamp or signature.
    for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut headers = standard_headers(SW_MSG_ID, &ts, SW_SIGNATURE);
        headers.remove(header);
        assert_eq!(
            v.verify(&headers, SW_PAYLOAD),
            Err(SignatureError::Missing),
            "{header}"
        );
    }

    let rs = standard_verifier(RS_SECRET, RS_TIMESTAMP);
    let rs_ts = RS_TIMESTAMP.to_string();
    let rs_check =
        |signature: &str| rs.verify(&standard_headers(RS_MSG_ID, &rs_ts, signature), RS_PAYLOAD);
    assert_eq!(rs_check(RS_WRONG), Err(SignatureError::Mismatch));
    let [a, b, c] = RS_DECOYS;
    assert_eq!(rs_check(&format!("{a} {b} {RS_SIGNATURE} {c}")), Ok(()));
    assert_eq!(
        rs_check(&format!("{a} {b} {c}")),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn standard_window_old_and_future_one_second_off() {
    let headers = standard_headers(SW_MSG_ID, &SW_TIMESTAMP.to_string(), SW_SIGNATURE);
    for (now, expected) in [
        (SW_TIMESTAMP, Ok(())),
        (SW_TIMESTAMP + 300, Ok(())),
        (SW_TIMESTAMP - 300, Ok(())),
        (
            SW_TIMESTAMP + 301,
            Err(SignatureError::TimestampOutOfWindow),
        ),
        (
            SW_TIMESTAMP - 301,
            Err(SignatureError::TimestampOutOfWindow),
        ),
        (
            SW_TIMESTAMP + 86_400,
            Err(SignatureError::TimestampOutOfWindow),
        ),
    ] {
        assert_eq!(
            standard_verifier(SW_SECRET, now).verify(&headers, SW_PAYLOAD),
            expected,
            "now {now}"
        );
    }
    // A configurable window, and none at all.
    let clock = ManualClock::at_unix(SW_TIMESTAMP + 3_600);
    let secrets = || SecretSet::new([Secret::from_standard(SW_SECRET).unwrap()]).unwrap();
    let hour = Verifier::new(
        crate::Standard::default_scheme()
            .with_tolerance(Duration::from_secs(3_600))
            .with_clock(clock.clone()),
        secrets(),
    );
    assert_eq!(hour.verify(&headers, SW_PAYLOAD), Ok(()));
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        hour.verify(&headers, SW_PAYLOAD),
        Err(SignatureError::TimestampOutOfWindow)
    );
    let off = Verifier::new(
        crate::Standard::default_scheme()
            .without_tolerance()
            .with_clock(clock),
        secrets(),
    );
    assert_eq!(off.scheme().tolerance(), None);
    assert_eq!(off.verify(&headers, SW_PAYLOAD), Ok(()));
    // With the window off, the timestamp is still signed.
    let moved = standard_headers(SW_MSG_ID, "946684800", SW_SIGNATURE);
    assert_eq!(
        off.verify(&moved, SW_PAYLOAD),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn svix_header_names() {
    let scheme = crate::Standard::svix_scheme().with_clock(ManualClock::at_unix(SW_TIMESTAMP));
    let mut headers = HeaderMap::new();
    headers.insert("svix-id", HeaderValue::from_static(SW_MSG_ID));
    headers.insert("svix-timestamp", HeaderValue::from(SW_TIMESTAMP));
    headers.insert("svix-signature", HeaderValue::from_static(SW_SIGNATURE));
    let v = Verifier::new(
        scheme,
        SecretSet::new([Secret::from_standard(SW_SECRET).unwrap()]).unwrap(),
    );
    assert_eq!(v.verify(&headers, SW_PAYLOAD), Ok(()));
}

// ---- The parts ----

#[test]
fn templates_round_trip_and_refuse_nonsense() {
    for template in [
        "{body}",
        "{timestamp}.{body}",
        "{header:webhook-id}.{timestamp}.{body}",
        "v0:{timestamp}:{body}",
        "{{literal}}{body}",
    ] {
        let content = SignedContent::template(template).unwrap();
        assert_eq!(content.to_string(), template);
    }
    assert_eq!(
        SignedContent::template("{header:X-Id}|{body}")
            .unwrap()
            .parts(),
        [
            ContentPart::Header(HeaderName::from_static("x-id")),
            ContentPart::Literal("|".into()),
            ContentPart::Body
        ]
    );
    for bad in ["", "{timestamp}", "{body", "{bdy}", "{body}}", "x}{body}"] {
        assert!(
            matches!(
                SignedContent::template(bad),
                Err(ConfigError::InvalidSignedContent(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        SignedContent::template("{header:bad name}{body}"),
        Err(ConfigError::InvalidHeaderName(_))
    ));
    assert!(SignedContent::from_parts([ContentPart::Timestamp]).is_err());
}

#[test]
fn validate_catches_parts_that_do_not_fit() {
    let signed_timestamp = crate::Claimr::default_scheme()
        .with_signed_content(SignedContent::template("{timestamp}.{body}").unwrap());
    assert!(signed_timestamp.validate().is_err());
    let key_in_a_list =
        crate::Claimr::default_scheme().with_timestamp(TimestampSource::SignatureKey("t".into()));
    assert!(key_in_a_list.validate().is_err());
    assert!(crate::Claimr::default_scheme().validate().is_ok());
    assert_eq!(crate::Claimr::default_scheme().tolerance(), None);
    assert_eq!(
        crate::Standard::default_scheme().tolerance(),
        Some(DEFAULT_TOLERANCE)
    );
}

#[test]
fn candidates_are_bounded() {
    let good = hmac_hex(b"k1", BODY);
    let decoy = hmac_hex(b"decoy", BODY);
    let v = verifier(&["k1"]);
    let mut values = vec![decoy.as_str(); MAX_CANDIDATES - 1];
    values.push(&good);
    assert_eq!(v.verify(&headers_with(&[&values.join(",")]), BODY), Ok(()));
    let mut values = vec![decoy.as_str(); MAX_CANDIDATES];
    values.push(&good);
    assert_eq!(
        v.verify(&headers_with(&[&values.join(",")]), BODY),
        Err(SignatureError::Mismatch),
        "a signature past the bound is not read"
    );
}
