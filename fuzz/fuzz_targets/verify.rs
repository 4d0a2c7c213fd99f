//! Sign and verify over arbitrary secrets and bodies: what is signed verifies; a body
//! with one bit flipped, a tag with one bit flipped, and another secret do not.
//!
//! Input: one byte choosing the scheme and the secret's length, the secret, two bytes
//! choosing the bit to flip, then the body.
#![no_main]

use hookguard::secret::SecretSet;
use hookguard::signature::{Encoding, Verifier};
use hookguard::{Secret, SignatureError, SignatureScheme};
use http::header::HeaderValue;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let secret_len = usize::from(choice & 0x3f) + 1;
    if rest.len() < secret_len + 2 {
        return;
    }
    let (secret, rest) = rest.split_at(secret_len);
    let (bit, body) = rest.split_at(2);
    let bit = usize::from(u16::from_le_bytes([bit[0], bit[1]]));

    let scheme = SignatureScheme::new("x-signature").unwrap();
    let scheme = match choice >> 6 {
        0 => scheme,
        1 => scheme.with_prefix(None),
        _ => scheme.with_encoding(Encoding::Base64),
    };
    let secret = Secret::new(secret).unwrap();
    let verifier = Verifier::new(scheme.clone(), SecretSet::new([secret.clone()]).unwrap());

    let mut headers = HeaderMap::new();
    let value = scheme.sign(&secret, &headers, body).unwrap();
    headers.insert(scheme.header(), value.clone());
    assert_eq!(verifier.verify(&headers, body), Ok(()));

    if !body.is_empty() {
        let mut tampered = body.to_vec();
        let bit = bit % (tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            verifier.verify(&headers, &tampered),
            Err(SignatureError::Mismatch)
        );
    }

    // Another secret. (Not the same one with a zero byte appended: HMAC pads short keys
    // with zeros, so that is the same key, as RFC 2104 defines it.)
    let mut other = secret.expose().to_vec();
    other[0] ^= 1;
    let other = Verifier::new(
        scheme.clone(),
        SecretSet::new([Secret::new(&other).unwrap()]).unwrap(),
    );
    assert_eq!(other.verify(&headers, body), Err(SignatureError::Mismatch));

    // One bit of the tag flipped, re-encoded the scheme's way.
    let text = value.to_str().unwrap();
    let prefix = scheme.prefix().unwrap_or("");
    let encoded = text.strip_prefix(prefix).unwrap();
    let mut tag = match scheme.encoding() {
        Encoding::Hex => hex_decode(encoded),
        _ => base64_decode(encoded),
    };
    let bit = bit % (tag.len() * 8);
    tag[bit / 8] ^= 1 << (bit % 8);
    let flipped = match scheme.encoding() {
        Encoding::Hex => hex_encode(&tag),
        _ => base64_encode(&tag),
    };
    headers.insert(
        scheme.header(),
        HeaderValue::from_str(&format!("{prefix}{flipped}")).unwrap(),
    );
    assert_eq!(
        verifier.verify(&headers, body),
        Err(SignatureError::Mismatch)
    );
});

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().take_while(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = bits << 6 | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
