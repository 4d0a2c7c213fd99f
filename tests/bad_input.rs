//! Hostile and broken deliveries, one table: each row is a request a careless or hostile
//! sender might make, the status it must get, and the promise that no handler ran.
//!
//! The classes of bug found in other webhook libraries each have rows here: a bare
//! `v1,` or prefix that verified, a length mismatch that panicked, bodies buffered
//! without bound, a configuration without a secret that let everything through, and a
//! parser that kept only the last of several signatures. Standard Webhooks' asymmetric
//! (`v1a`) entries have rows of their own: malformed, made with another key pair, sent to
//! a receiver with no public key, or past the bound on entries tried.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hookguard::idempotency::MemoryStore;
use hookguard::{
    chainvine, claimr, standard, ChainVine, Claimr, ConfigError, Dispatcher, SignatureScheme,
    Standard, WebhookLayer,
};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use support::*;
use tower::ServiceExt;

/// The body cap of the receivers under test.
const LIMIT: usize = 4096;
/// The body read timeout of the receivers under test.
const BODY_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug)]
enum Target {
    Claimr,
    ChainVine,
    /// Standard Webhooks with [`STANDARD_SECRET`] and the public key of [`SEED`].
    Standard,
    /// Standard Webhooks with [`STANDARD_SECRET`] alone: no public key.
    StandardSecretOnly,
}

/// The seed of the key pair whose public key the [`Target::Standard`] receiver holds.
const SEED: [u8; 32] = *b"bad-input-ed25519-signing-seed-1";
/// Another key pair's: a stranger's signatures.
const OTHER_SEED: [u8; 32] = *b"bad-input-ed25519-signing-seed-2";

fn public_key(seed: &[u8; 32]) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
    format!(
        "whpk_{}",
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    )
}

struct Case {
    name: &'static str,
    target: Target,
    request: Request<TestBody>,
    status: StatusCode,
    /// A piece of the response body, so that a 401 is told apart from another 401.
    text: &'static str,
}

type Counter = Arc<AtomicUsize>;

fn counting<E: hookguard::WebhookEvent>(calls: &Counter) -> Dispatcher<E> {
    let calls = calls.clone();
    Dispatcher::<E>::new().on_any(move |_| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

/// Sends `request` to a fresh receiver whose every handler (payouts included) counts
/// its calls; returns the status, the body text and the count.
async fn run(target: Target, request: Request<TestBody>) -> (StatusCode, String, usize) {
    let calls = Counter::default();
    let response = match target {
        Target::Claimr => {
            WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
                .with_body_limit(LIMIT)
                .unwrap()
                .with_body_timeout(BODY_TIMEOUT)
                .layer(counting::<claimr::Event>(&calls))
                .oneshot(request)
                .await
        }
        Target::ChainVine => {
            let paid = calls.clone();
            WebhookLayer::new(ChainVine::new(CHAINVINE_SECRET).unwrap())
                .with_body_limit(LIMIT)
                .unwrap()
                .with_body_timeout(BODY_TIMEOUT)
                .layer(counting::<chainvine::Event>(&calls).on_payment_request(
                    MemoryStore::new(),
                    move |_| {
                        let paid = paid.clone();
                        async move {
                            paid.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        }
                    },
                ))
                .oneshot(request)
                .await
        }
        Target::Standard | Target::StandardSecretOnly => {
            let mut provider = Standard::new(STANDARD_SECRET).unwrap();
            if let Target::Standard = target {
                provider = provider.with_public_keys([public_key(&SEED)]).unwrap();
            }
            WebhookLayer::new(provider)
                .with_body_limit(LIMIT)
                .unwrap()
                .with_body_timeout(BODY_TIMEOUT)
                .layer(counting::<standard::Event>(&calls))
                .oneshot(request)
                .await
        }
    }
    .unwrap();
    let status = response.status();
    let text = body_text(response.into_body()).await;
    (status, text, calls.load(Ordering::SeqCst))
}

fn scheme(target: Target) -> SignatureScheme {
    match target {
        Target::Claimr => Claimr::default_scheme(),
        Target::ChainVine => ChainVine::default_scheme(),
        Target::Standard | Target::StandardSecretOnly => Standard::default_scheme(),
    }
}

/// The secret of a claimr or ChainVine target, as UTF-8 (Standard Webhooks rows sign
/// with [`standard_signed`]).
fn secret(target: Target) -> &'static str {
    match target {
        Target::Claimr => CLAIMR_SECRET,
        Target::ChainVine => CHAINVINE_SECRET,
        Target::Standard | Target::StandardSecretOnly => STANDARD_SECRET,
    }
}

/// The Standard Webhooks body of the rows.
const STANDARD_BODY: &str = r#"{"type":"invoice.paid","data":{"amount":"12.50"}}"#;
const STANDARD_ID: &str = "msg_bad_input_1";

/// `v1a,<base64>`: the ed25519 signature by `seed` of `{id}.{timestamp}.{body}`, made
/// with ed25519-dalek directly, not through hookguard's signer.
fn v1a(seed: &[u8; 32], timestamp: i64, body: &str) -> String {
    use ed25519_dalek::Signer as _;
    let message = format!("{STANDARD_ID}.{timestamp}.{body}");
    let signature = ed25519_dalek::SigningKey::from_bytes(seed).sign(message.as_bytes());
    format!(
        "v1a,{}",
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    )
}

/// A Standard Webhooks delivery of [`STANDARD_BODY`] at `timestamp` with `signature` as
/// its `webhook-signature`.
fn standard_signed(signature: &str, timestamp: i64) -> Request<TestBody> {
    Request::post("/webhook")
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", STANDARD_ID)
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .body(full_body(Bytes::from_static(STANDARD_BODY.as_bytes())))
        .unwrap()
}

/// The bare lowercase hex tag that signs `body` for `target`.
fn tag_hex(target: Target, body: &[u8]) -> String {
    let value = signature(&scheme(target), secret(target), body);
    let value = value.to_str().unwrap();
    value.strip_prefix("sha256=").unwrap_or(value).to_owned()
}

/// A JSON POST to `target` with `signatures` as the values of its signature header (one
/// header each; none when empty).
fn with_signatures(target: Target, signatures: &[&[u8]], body: TestBody) -> Request<TestBody> {
    let mut builder = Request::post("/webhook").header(CONTENT_TYPE, "application/json");
    for value in signatures {
        builder = builder.header(
            scheme(target).header(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    builder.body(body).unwrap()
}

/// A JSON POST of `body`, correctly signed for `target`.
fn signed(target: Target, body: impl Into<Bytes>) -> Request<TestBody> {
    let body = body.into();
    let sig = signature(&scheme(target), secret(target), &body);
    with_signatures(target, &[sig.as_bytes()], full_body(body))
}

/// A correctly signed request for `target`, changed by `edit` after signing.
fn signed_then(
    target: Target,
    body: impl Into<Bytes>,
    edit: impl FnOnce(&mut Request<TestBody>),
) -> Request<TestBody> {
    let mut request = signed(target, body);
    edit(&mut request);
    request
}

fn claimr_body() -> Vec<u8> {
    fixture("claimr/user_login.json")
}

/// A claimr body of the known `user_activity` scope with `rest` as further fields.
fn claimr_with(rest: &str) -> Vec<u8> {
    format!(r#"{{"id":"msg_1","scope":"user_activity"{rest}}}"#).into_bytes()
}

/// The ChainVine `fixture` with `from` replaced by `to` (which must occur in it).
fn chainvine_edited(fixture_name: &str, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture(fixture_name)).unwrap();
    assert!(text.contains(from), "{fixture_name} lacks {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

fn cases() -> Vec<Case> {
    use Target::{ChainVine as Cv, Claimr as Cl};
    let body = claimr_body();
    let good = tag_hex(Cl, &body);
    let good_prefixed = format!("sha256={good}");
    let decoy = {
        let mut decoy = good.clone().into_bytes();
        decoy[0] = if decoy[0] == b'0' { b'1' } else { b'0' };
        String::from_utf8(decoy).unwrap()
    };
    let raw_tag = hex::decode(&good).unwrap();
    let b = |bytes: &[u8]| full_body(Bytes::copy_from_slice(bytes));
    let unauthorized = StatusCode::UNAUTHORIZED;

    let mut cases = vec![
        // ---- The signature header: absent, empty, repeated, partial, mis-encoded.
        Case {
            name: "no signature header",
            target: Cl,
            request: with_signatures(Cl, &[], b(&body)),
            status: unauthorized,
            text: "missing signature",
        },
        Case {
            name: "empty signature header",
            target: Cl,
            request: with_signatures(Cl, &[b""], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "white space only",
            target: Cl,
            request: with_signatures(Cl, &[b" \t "], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "`v1,` alone",
            target: Cl,
            request: with_signatures(Cl, &[b"v1,"], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "`v1,` then an empty header",
            target: Cl,
            request: with_signatures(Cl, &[b"v1,", b""], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "`v1,` with a space and nothing after",
            target: Cl,
            request: with_signatures(Cl, &[b"v1, "], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "commas only",
            target: Cl,
            request: with_signatures(Cl, &[b",,,"], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "`sha256=` prefix with nothing after",
            target: Cl,
            request: with_signatures(Cl, &[b"sha256="], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "prefix given twice",
            target: Cl,
            request: with_signatures(
                Cl,
                &[format!("sha256={good_prefixed}").as_bytes()],
                b(&body),
            ),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "truncated by one hex digit",
            target: Cl,
            request: with_signatures(Cl, &[&good.as_bytes()[..63]], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "truncated to half (a 16-byte prefix of the tag)",
            target: Cl,
            request: with_signatures(Cl, &[&good.as_bytes()[..32]], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "one byte of tag (a partial compare would pass it)",
            target: Cl,
            request: with_signatures(Cl, &[&good.as_bytes()[..2]], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "over-long: the tag and one more byte",
            target: Cl,
            request: with_signatures(Cl, &[format!("{good}00").as_bytes()], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "over-long: 4 KiB of hex",
            target: Cl,
            request: with_signatures(Cl, &["ab".repeat(2048).as_bytes()], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "right length, not hex",
            target: Cl,
            request: with_signatures(Cl, &["zz".repeat(32).as_bytes()], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "the right tag in base64 where hex is expected",
            target: Cl,
            request: with_signatures(
                Cl,
                &[base64::engine::general_purpose::STANDARD
                    .encode(&raw_tag)
                    .as_bytes()],
                b(&body),
            ),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "non-ASCII header value",
            target: Cl,
            request: with_signatures(Cl, &["sha256=é".as_bytes()], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "the right tag with non-ASCII bytes around it",
            target: Cl,
            request: with_signatures(Cl, &[format!("\u{00e9}{good}").as_bytes()], b(&body)),
            status: unauthorized,
            text: "malformed signature",
        },
        Case {
            name: "a tag with one digit changed",
            target: Cl,
            request: with_signatures(Cl, &[decoy.as_bytes()], b(&body)),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "repeated headers, each wrong",
            target: Cl,
            request: with_signatures(Cl, &[decoy.as_bytes(), decoy.as_bytes(), b"v1,"], b(&body)),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "more candidates than are read, the right one last",
            target: Cl,
            request: with_signatures(
                Cl,
                &[format!("{} {good}", [decoy.as_str(); 16].join(" ")).as_bytes()],
                b(&body),
            ),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "signed with another secret",
            target: Cl,
            request: with_signatures(
                Cl,
                &[signature(&scheme(Cl), "not-the-secret", &body).as_bytes()],
                b(&body),
            ),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "a valid signature of another body",
            target: Cl,
            request: with_signatures(
                Cl,
                &[tag_hex(Cl, &fixture("claimr/referral.json")).as_bytes()],
                b(&body),
            ),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "body with a byte appended after signing",
            target: Cl,
            request: with_signatures(Cl, &[good.as_bytes()], b(&[&body[..], b" "].concat())),
            status: unauthorized,
            text: "signature mismatch",
        },
        Case {
            name: "the other provider's header",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                let value = request.headers_mut().remove(scheme(Cl).header()).unwrap();
                request.headers_mut().insert(scheme(Cv).header(), value);
            }),
            status: unauthorized,
            text: "missing signature",
        },
        // ---- Bodies that are signed correctly but are not a valid event.
        Case {
            name: "empty body",
            target: Cl,
            request: signed(Cl, Bytes::new()),
            status: StatusCode::BAD_REQUEST,
            text: "malformed JSON",
        },
        Case {
            name: "invalid UTF-8",
            target: Cl,
            request: signed(
                Cl,
                b"{\"id\":\"1\",\"scope\":\"user_login\",\"team\":\"\xff\xfe\"}".to_vec(),
            ),
            status: StatusCode::BAD_REQUEST,
            text: "malformed JSON",
        },
        Case {
            name: "invalid UTF-8 in a field nobody reads",
            target: Cl,
            request: signed(
                Cl,
                claimr_with(",\"unread\":\"\u{fffd}\"").tap(|body| {
                    // Swap the replacement character's three bytes for invalid ones.
                    let at = body
                        .windows(3)
                        .position(|w| w == "\u{fffd}".as_bytes())
                        .unwrap();
                    body[at..at + 3].copy_from_slice(b"\xff\xfe\xfd");
                }),
            ),
            status: StatusCode::BAD_REQUEST,
            text: "invalid UTF-8",
        },
        Case {
            name: "invalid UTF-8 in an object key",
            target: Cl,
            request: signed(
                Cl,
                b"{\"id\":\"1\",\"scope\":\"user_login\",\"k\xc0\":1}".to_vec(),
            ),
            status: StatusCode::BAD_REQUEST,
            text: "invalid UTF-8",
        },
        Case {
            name: "ChainVine: invalid UTF-8 in an unknown event's data",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/unknown_event.json",
                    r#""budget": "5000.0000""#,
                    "\"budget\": \"5000.0000\u{fffd}\"",
                )
                .tap(|body| {
                    let at = body
                        .windows(3)
                        .position(|w| w == "\u{fffd}".as_bytes())
                        .unwrap();
                    body[at..at + 3].copy_from_slice(b"\xed\xa0\x80");
                }),
            ),
            status: StatusCode::BAD_REQUEST,
            text: "invalid UTF-8",
        },
        Case {
            name: "a UTF-8 byte order mark before the JSON",
            target: Cl,
            request: signed(Cl, [&b"\xef\xbb\xbf"[..], &body].concat()),
            status: StatusCode::BAD_REQUEST,
            text: "malformed JSON",
        },
        Case {
            name: "trailing garbage after the JSON",
            target: Cl,
            request: signed(Cl, [&body[..], b"garbage"].concat()),
            status: StatusCode::BAD_REQUEST,
            text: "trailing characters",
        },
        Case {
            name: "two JSON documents",
            target: Cl,
            request: signed(Cl, [&body[..], &body[..]].concat()),
            status: StatusCode::BAD_REQUEST,
            text: "trailing characters",
        },
        Case {
            name: "truncated JSON",
            target: Cl,
            request: signed(Cl, body[..body.len() / 2].to_vec()),
            status: StatusCode::BAD_REQUEST,
            text: "malformed JSON",
        },
        Case {
            name: "deeply nested JSON at the root",
            target: Cl,
            request: signed(Cl, format!("{}{}", "[".repeat(2000), "]".repeat(2000))),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event",
        },
        Case {
            name: "NaN is not JSON",
            target: Cl,
            request: signed(Cl, claimr_with(r#","total_xp":NaN"#)),
            status: StatusCode::BAD_REQUEST,
            text: "malformed JSON",
        },
        Case {
            name: "a number past f64 range",
            target: Cl,
            request: signed(Cl, claimr_with(r#","total_xp":1e400"#)),
            status: StatusCode::BAD_REQUEST,
            text: "number out of range",
        },
        Case {
            name: "an integer id past u64",
            target: Cl,
            request: signed(
                Cl,
                br#"{"id":123456789012345678901234567890,"scope":"user_login"}"#.to_vec(),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `id`",
        },
        Case {
            name: "a rank past u64",
            target: Cl,
            request: signed(Cl, claimr_with(r#","rank":18446744073709551616"#)),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `rank`",
        },
        Case {
            name: "a negative rank",
            target: Cl,
            request: signed(Cl, claimr_with(r#","rank":-1"#)),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `rank`",
        },
        Case {
            name: "duplicate `scope` keys naming two hooks",
            target: Cl,
            request: signed(
                Cl,
                br#"{"id":"1","scope":"user_login","scope":"user_reward"}"#.to_vec(),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "duplicate field `scope`",
        },
        Case {
            name: "duplicate `id` keys",
            target: Cl,
            request: signed(Cl, br#"{"id":"1","id":"2","scope":"user_login"}"#.to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "duplicate field `id`",
        },
        Case {
            name: "`scope` of the wrong type",
            target: Cl,
            request: signed(Cl, br#"{"id":"1","scope":7}"#.to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `scope`",
        },
        Case {
            name: "`id` of the wrong type",
            target: Cl,
            request: signed(Cl, br#"{"id":["1"],"scope":"user_login"}"#.to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `id`",
        },
        Case {
            name: "`id` as a float (digits may be lost)",
            target: Cl,
            request: signed(Cl, br#"{"id":1.5,"scope":"user_login"}"#.to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `id`",
        },
        Case {
            name: "`campaign` as a string",
            target: Cl,
            request: signed(Cl, claimr_with(r#","campaign":"cmp_1""#)),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `campaign`",
        },
        Case {
            name: "`total_xp` as a string",
            target: Cl,
            request: signed(Cl, claimr_with(r#","total_xp":"lots""#)),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `total_xp`",
        },
        Case {
            name: "JSON null",
            target: Cl,
            request: signed(Cl, b"null".to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event",
        },
        Case {
            name: "a JSON array",
            target: Cl,
            request: signed(Cl, b"[]".to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event",
        },
        Case {
            name: "a JSON string",
            target: Cl,
            request: signed(Cl, br#""user_login""#.to_vec()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event",
        },
        Case {
            name: "ChainVine: `amount` as a JSON number",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/earning_created.json",
                    r#""amount": "0.00398888889000003983""#,
                    r#""amount": 0.00398888889000003983"#,
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `event.data.amount`",
        },
        Case {
            name: "ChainVine: `amount` with an exponent",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/earning_created.json",
                    r#""amount": "0.00398888889000003983""#,
                    r#""amount": "4e-3""#,
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `event.data.amount`",
        },
        Case {
            name: "ChainVine: `secure_request` as a string",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/earning_created.json",
                    r#""secure_request": true"#,
                    r#""secure_request": "true""#,
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "invalid event at `secure_request`",
        },
        Case {
            name: "ChainVine: duplicate event `name`",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/earning_created.json",
                    r#""name": "EARNING_CREATED","#,
                    r#""name": "EARNING_CREATED", "name": "PAYMENT_REQUEST","#,
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "duplicate field `name`",
        },
        Case {
            name: "ChainVine: a payment request with two amounts",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/payment_request.json",
                    r#""amount": "15.000","#,
                    r#""amount": "15.000", "amount": "15000.000","#,
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "duplicate field `amount`",
        },
        Case {
            name: "ChainVine: missing `event_id`",
            target: Cv,
            request: signed(
                Cv,
                chainvine_edited(
                    "chainvine/payment_request.json",
                    r#""event_id": "1a2b3c4d-5e6f-4a8b-9c0d-e1f2a3b4c5d6","#,
                    "",
                ),
            ),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: "missing field `event_id`",
        },
        Case {
            name: "ChainVine: unsigned, claiming `secure_request: false`",
            target: Cv,
            request: with_signatures(
                Cv,
                &[],
                full_body(chainvine_edited(
                    "chainvine/payment_request.json",
                    r#""secure_request": true"#,
                    r#""secure_request": false"#,
                )),
            ),
            status: unauthorized,
            text: "missing signature",
        },
        // ---- The HTTP envelope: method, content type, length, pace.
        Case {
            name: "an over-cap body in chunks, no Content-Length",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![Bytes::from(vec![b' '; 1024]); 8], BodyEnd::Ends),
            ),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            text: "payload too large",
        },
        Case {
            name: "an over-cap body in chunks that never ends",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![Bytes::from(vec![b' '; 1024]); 8], BodyEnd::Stalls),
            ),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            text: "payload too large",
        },
        Case {
            name: "Content-Length over the cap (refused before reading)",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(LIMIT + 1));
            }),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            text: "payload too large",
        },
        Case {
            name: "Content-Length that lies low about an over-cap body",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![Bytes::from(vec![b' '; 2 * LIMIT])], BodyEnd::Ends),
            )
            .tap(|request| {
                request
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(10));
            }),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            text: "payload too large",
        },
        Case {
            name: "Content-Length that is not a number, over-cap body",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![Bytes::from(vec![b' '; 2 * LIMIT])], BodyEnd::Ends),
            )
            .tap(|request| {
                request
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("-1"));
            }),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            text: "payload too large",
        },
        Case {
            name: "a slow body: nothing after the head",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![], BodyEnd::Stalls),
            ),
            status: StatusCode::REQUEST_TIMEOUT,
            text: "request timeout",
        },
        Case {
            name: "a slow body: half the body, then nothing",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(
                    vec![Bytes::copy_from_slice(&body[..body.len() / 2])],
                    BodyEnd::Stalls,
                ),
            ),
            status: StatusCode::REQUEST_TIMEOUT,
            text: "request timeout",
        },
        Case {
            name: "a body cut off by a connection error",
            target: Cl,
            request: with_signatures(
                Cl,
                &[good.as_bytes()],
                chunked_body(vec![Bytes::copy_from_slice(&body[..10])], BodyEnd::Fails),
            ),
            status: StatusCode::BAD_REQUEST,
            text: "failed to read",
        },
        Case {
            name: "no Content-Type",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request.headers_mut().remove(CONTENT_TYPE);
            }),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            text: "unsupported media type",
        },
        Case {
            name: "Content-Type text/plain",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            }),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            text: "unsupported media type",
        },
        Case {
            name: "Content-Type form-urlencoded",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            text: "unsupported media type",
        },
        Case {
            name: "Content-Type application/jsonp",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/jsonp"));
            }),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            text: "unsupported media type",
        },
        Case {
            name: "Content-Type with non-ASCII bytes",
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| {
                request.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_bytes("application/jsön".as_bytes()).unwrap(),
                );
            }),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            text: "unsupported media type",
        },
    ];
    // ---- Standard Webhooks' asymmetric (`v1a`) entries.
    let now = unix_now();
    let good_v1a = v1a(&SEED, now, STANDARD_BODY);
    let standard_rows: Vec<(&'static str, Target, String, i64, &'static str)> = vec![
        (
            "v1a: not base64",
            Target::Standard,
            format!("v1a,{}", "!".repeat(88)),
            now,
            "malformed signature",
        ),
        (
            "v1a: 63 bytes",
            Target::Standard,
            format!(
                "v1a,{}",
                base64::engine::general_purpose::STANDARD.encode([7u8; 63])
            ),
            now,
            "malformed signature",
        ),
        (
            "v1a: `v1a,` alone",
            Target::Standard,
            "v1a,".to_owned(),
            now,
            "malformed signature",
        ),
        (
            "v1a: truncated",
            Target::Standard,
            good_v1a[..good_v1a.len() - 4].to_owned(),
            now,
            "malformed signature",
        ),
        (
            "v1a: a valid signature under the `v1` label",
            Target::Standard,
            good_v1a.replacen("v1a,", "v1,", 1),
            now,
            "malformed signature",
        ),
        (
            "v1a: malformed, beside a wrong v1",
            Target::Standard,
            format!(
                "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,{}",
                "A".repeat(20)
            ),
            now,
            "signature mismatch",
        ),
        (
            "v1a: no public key configured",
            Target::StandardSecretOnly,
            good_v1a.clone(),
            now,
            "malformed signature",
        ),
        (
            "v1a: signed with another key pair",
            Target::Standard,
            v1a(&OTHER_SEED, now, STANDARD_BODY),
            now,
            "signature mismatch",
        ),
        (
            "v1a: signed over another body",
            Target::Standard,
            v1a(&SEED, now, "{}"),
            now,
            "signature mismatch",
        ),
        (
            "v1a: the good signature fifth, after four decoys",
            Target::Standard,
            format!(
                "{} {good_v1a}",
                vec![format!("v1a,{}", "A".repeat(86)); 4].join(" ")
            ),
            now,
            "signature mismatch",
        ),
        (
            "v1a: correctly signed an hour ago",
            Target::Standard,
            v1a(&SEED, now - 3_600, STANDARD_BODY),
            now - 3_600,
            "timestamp outside the tolerance window",
        ),
    ];
    for (name, target, signature, timestamp, text) in standard_rows {
        cases.push(Case {
            name,
            target,
            request: standard_signed(&signature, timestamp),
            status: unauthorized,
            text,
        });
    }

    for (name, method) in [
        ("method GET", Method::GET),
        ("method PUT", Method::PUT),
        ("method PATCH", Method::PATCH),
        ("method DELETE", Method::DELETE),
        ("method HEAD", Method::HEAD),
        ("method OPTIONS", Method::OPTIONS),
    ] {
        cases.push(Case {
            name,
            target: Cl,
            request: signed_then(Cl, body.clone(), |request| *request.method_mut() = method),
            status: StatusCode::METHOD_NOT_ALLOWED,
            text: "method not allowed",
        });
    }
    cases
}

/// `value.tap(f)`: `f` edits the value in place, then it is handed on.
trait Tap: Sized {
    fn tap(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}

impl<T> Tap for T {}

#[tokio::test]
async fn every_bad_input_gets_its_status_and_runs_no_handler() {
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} rows", cases.len());
    println!("{} rows", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let started = Instant::now();
        let (status, text, calls) = run(case.target, case.request).await;
        let elapsed = started.elapsed();
        if status != case.status || !text.contains(case.text) || calls != 0 {
            failures.push(format!(
                "{}: got {status} {text:?} with {calls} handler call(s); expected {} containing {:?}",
                case.name, case.status, case.text
            ));
        }
        // Nothing here may wait for more than the body timeout (and some slack).
        if elapsed > BODY_TIMEOUT + Duration::from_secs(2) {
            failures.push(format!("{}: took {elapsed:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The control for the table: the same receivers do run handlers for good deliveries,
/// so a row's "no handler ran" means something.
#[tokio::test]
async fn the_same_receivers_accept_good_deliveries() {
    let (status, _, calls) = run(Target::Claimr, signed(Target::Claimr, claimr_body())).await;
    assert_eq!((status, calls), (StatusCode::OK, 1));
    let (status, _, calls) = run(
        Target::ChainVine,
        signed(Target::ChainVine, fixture("chainvine/payment_request.json")),
    )
    .await;
    assert_eq!((status, calls), (StatusCode::OK, 1));
    // `v1,` followed by the real signature is the real signature, in the same header.
    let body = claimr_body();
    let value = format!("v1,{}", tag_hex(Target::Claimr, &body));
    let request = with_signatures(Target::Claimr, &[value.as_bytes()], full_body(body));
    let (status, _, calls) = run(Target::Claimr, request).await;
    assert_eq!((status, calls), (StatusCode::OK, 1));
    // A body that arrives in many small chunks, within the cap and the timeout, is fine.
    let body = claimr_body();
    let sig = signature(&scheme(Target::Claimr), CLAIMR_SECRET, &body);
    let chunks = body.chunks(7).map(Bytes::copy_from_slice).collect();
    let request = with_signatures(
        Target::Claimr,
        &[sig.as_bytes()],
        chunked_body(chunks, BodyEnd::Ends),
    );
    let (status, _, calls) = run(Target::Claimr, request).await;
    assert_eq!((status, calls), (StatusCode::OK, 1));
    // The Standard Webhooks receivers accept a good v1a entry (the one holding the
    // public key), alone or after malformed and foreign ones, and a good v1 entry.
    let now = unix_now();
    let good_v1a = v1a(&SEED, now, STANDARD_BODY);
    for signature in [
        good_v1a.clone(),
        format!(
            "v1a,{} {} {good_v1a}",
            "A".repeat(20),
            v1a(&OTHER_SEED, now, STANDARD_BODY)
        ),
    ] {
        let (status, text, calls) = run(Target::Standard, standard_signed(&signature, now)).await;
        assert_eq!((status, calls), (StatusCode::OK, 1), "{signature}: {text}");
    }
    let v1 = standard_request(STANDARD_ID, now, STANDARD_BODY);
    let v1 = v1.headers()["webhook-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    for target in [Target::Standard, Target::StandardSecretOnly] {
        let (status, _, calls) =
            run(target, standard_signed(&format!("{good_v1a} {v1}"), now)).await;
        assert_eq!((status, calls), (StatusCode::OK, 1), "{target:?}");
    }
}

#[test]
fn an_empty_secret_is_a_construction_error() {
    assert_eq!(Claimr::new("").unwrap_err(), ConfigError::EmptySecret);
    assert_eq!(ChainVine::new(b"").unwrap_err(), ConfigError::EmptySecret);
    // One empty secret among good ones is refused too, not skipped.
    assert_eq!(
        Claimr::with_secrets(["current", ""]).unwrap_err(),
        ConfigError::EmptySecret
    );
    assert_eq!(
        ChainVine::with_secrets(Vec::<&str>::new()).unwrap_err(),
        ConfigError::NoSecret
    );
    assert_eq!(
        hookguard::secret::SecretSet::new([]).unwrap_err(),
        ConfigError::NoSecret
    );
    // Nor does a receiver of asymmetric signatures start without a usable public key.
    assert_eq!(
        Standard::from_public_keys(Vec::<&str>::new()).unwrap_err(),
        ConfigError::NoPublicKey
    );
    let signing_key = format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD.encode(SEED)
    );
    assert_eq!(
        Standard::from_public_keys([signing_key]).unwrap_err(),
        ConfigError::SigningKeyAsPublicKey
    );
}

/// The same hostile deliveries over a real socket, where the HTTP server's own parsing
/// is part of the path: a lying Content-Length, a chunked upload past the cap, a
/// sender that stops sending.
#[tokio::test]
async fn hostile_deliveries_over_loopback() {
    let calls = Counter::default();
    let app = axum::Router::new().route_service(
        "/webhooks/claimr",
        WebhookLayer::new(Claimr::new(CLAIMR_SECRET).unwrap())
            .with_body_limit(LIMIT)
            .unwrap()
            .with_body_timeout(BODY_TIMEOUT)
            .layer(counting::<claimr::Event>(&calls)),
    );
    let addr = serve_loopback(app).await;
    let body = claimr_body();
    let sig = signature(&Claimr::default_scheme(), CLAIMR_SECRET, &body);
    let head = |extra: &str| {
        format!(
            "POST /webhooks/claimr HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             x-claimr-signature: {}\r\n{extra}\r\n",
            sig.to_str().unwrap()
        )
        .into_bytes()
    };
    let wait = Duration::from_secs(10);

    // Declares the whole body, sends half, then waits: the body timeout answers.
    let started = Instant::now();
    let request = [
        head(&format!("content-length: {}\r\n", body.len())),
        body[..body.len() / 2].to_vec(),
    ]
    .concat();
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(408));
    assert!(started.elapsed() < BODY_TIMEOUT + Duration::from_secs(2));

    // Declares more than it will ever send.
    let request = [head("content-length: 4000\r\n"), body.clone()].concat();
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(408));

    // Declares over the cap: refused from the head, before any body is sent.
    let request = head(&format!("content-length: {}\r\n", LIMIT + 1));
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(413));

    // Chunked, no length, past the cap.
    let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
    let request = [
        head("transfer-encoding: chunked\r\n"),
        chunk.repeat(LIMIT / 0x400 + 2).into_bytes(),
    ]
    .concat();
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(413));

    // Chunked, then silence in the middle of a chunk.
    let request = [
        head("transfer-encoding: chunked\r\n"),
        b"100\r\n{\"id\":".to_vec(),
    ]
    .concat();
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(408));

    // Content-Length and chunked together: the server frames by chunks (RFC 9112), so
    // the body is the empty chunked one, which the signature does not cover.
    let request = [
        head("content-length: 5\r\ntransfer-encoding: chunked\r\n"),
        b"0\r\n\r\n".to_vec(),
    ]
    .concat();
    let status = raw_http_status(addr, &request, wait).await;
    assert!(
        matches!(status, None | Some(400 | 401)),
        "ambiguous framing got {status:?}"
    );

    assert_eq!(calls.load(Ordering::SeqCst), 0, "a handler ran");

    // The control: the same server takes a proper delivery.
    let request = [
        head(&format!("content-length: {}\r\n", body.len())),
        body.clone(),
    ]
    .concat();
    assert_eq!(raw_http_status(addr, &request, wait).await, Some(200));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Deeply nested JSON in a free-form field (claimr's `action.meta`) is not bad input: it
/// is kept as sent, so the delivery is answered 200 and handled; a handler that parses it
/// gets serde_json's recursion limit as an error, never a stack overflow. (Before `meta`
/// was kept raw, the layer refused it with 400 `recursion limit`.)
#[tokio::test]
async fn deeply_nested_free_form_json_is_kept_as_sent_and_refused_when_parsed() {
    let body = claimr_with(&format!(
        r#","event":{{"data":{{"action":{{"meta":{}{}}}}}}}"#,
        "[".repeat(1500),
        "]".repeat(1500)
    ));
    let (status, text, calls) = run(Target::Claimr, signed(Target::Claimr, body.clone())).await;
    assert_eq!((status, text.as_str(), calls), (StatusCode::OK, "ok", 1));
    let event = claimr::Event::from_slice(&body).unwrap();
    let meta = event
        .payload()
        .and_then(|p| p.event())
        .and_then(|e| e.data())
        .and_then(|d| d.action())
        .and_then(|a| a.meta())
        .expect("meta kept");
    assert_eq!(meta.get().len(), 3000);
    let err = meta.parse_as::<serde_json::Value>().unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

/// Nesting as deep as the default body cap allows, in every place a body can hide it
/// (a known field, an ignored field, an unknown event's raw data), parsed on a thread
/// with tokio's default worker stack: refused or kept, never a stack overflow.
#[test]
fn nesting_to_the_default_cap_never_overflows_the_stack() {
    // Room for the rest of the largest body below (a pretty-printed fixture).
    let depth = hookguard::layer::DEFAULT_BODY_LIMIT / 2 - 1024;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(depth / 5), "}".repeat(depth / 5));
    let bodies = [
        format!(r#"{{"id":"1","scope":"user_login","ignored":{deep}}}"#),
        format!(r#"{{"id":"1","scope":"user_login","ignored":{deep_objects}}}"#),
        format!(r#"{{"id":"1","scope":"not_a_known_scope","ignored":{deep}}}"#),
        format!(
            r#"{{"id":"1","scope":"user_login","event":{{"data":{{"action":{{"meta":{deep}}}}}}}}}"#
        ),
        format!(r#"{{"id":{deep},"scope":"user_login"}}"#),
        deep.clone(),
    ];
    let chainvine = String::from_utf8(fixture("chainvine/unknown_event.json")).unwrap();
    let chainvine_bodies = [
        chainvine.replacen(
            r#""version""#,
            &format!(r#""ignored": {deep}, "version""#),
            1,
        ),
        chainvine.replacen(r#""data""#, &format!(r#""data": {deep}, "unused""#), 1),
    ];
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            for body in &bodies {
                assert!(body.len() <= hookguard::layer::DEFAULT_BODY_LIMIT);
                let event = claimr::Event::from_slice(body.as_bytes());
                // A free-form value kept as sent is parsed under the same limit.
                let meta = event
                    .as_ref()
                    .ok()
                    .and_then(|e| e.payload()?.event()?.data()?.action()?.meta());
                if let Some(meta) = meta {
                    assert!(meta.parse_as::<serde_json::Value>().is_err());
                }
            }
            for body in &chainvine_bodies {
                assert!(body.len() <= hookguard::layer::DEFAULT_BODY_LIMIT);
                let _ = chainvine::Event::from_slice(body.as_bytes());
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
