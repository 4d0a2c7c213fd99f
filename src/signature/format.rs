//! How a signature is written: the encoding of its bytes and the layout of its header.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::TAG_LEN;

/// The standard base64 alphabet, accepting values with or without `=` padding.
pub(super) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a signature's bytes are written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, read in either case and written in lowercase.
    Hex,
    /// Standard base64, read with or without padding and written with it.
    Base64,
}

impl Encoding {
    /// Decodes a 32-byte tag in place, without allocating; `None` unless `text` decodes
    /// to exactly [`TAG_LEN`] bytes.
    pub(super) fn decode_tag(self, text: &[u8]) -> Option<[u8; TAG_LEN]> {
        let mut tag = [0u8; TAG_LEN];
        match self {
            Encoding::Hex => {
                let text: &[u8; 2 * TAG_LEN] = text.try_into().ok()?;
                // Arithmetic, not a table, per digit, and the validity of all of them
                // folded into one flag: no branch per character, and loops over fixed
                // arrays that the compiler turns into vector instructions.
                let mut nibbles = [0u8; 2 * TAG_LEN];
                let mut invalid = 0u8;
                for (nibble, &c) in nibbles.iter_mut().zip(text) {
                    let digit = c.wrapping_sub(b'0');
                    // `| 0x20` lowers ASCII letters; no other byte lands on `a..=f`.
                    let letter = (c | 0x20).wrapping_sub(b'a');
                    let (is_digit, is_letter) = (digit < 10, letter < 6);
                    *nibble = if is_digit {
                        digit
                    } else {
                        letter.wrapping_add(10)
                    };
                    invalid |= u8::from(!(is_digit | is_letter));
                }
                if invalid != 0 {
                    return None;
                }
                for (byte, pair) in tag.iter_mut().zip(nibbles.chunks_exact(2)) {
                    *byte = (pair[0] << 4) | (pair[1] & 0x0f);
                }
            }
            Encoding::Base64 => {
                // base64 asks for room for its estimate (33 bytes for 44 characters).
                let mut buffer = [0u8; TAG_LEN + 3];
                let len = BASE64.decode_slice(text, &mut buffer).ok()?;
                tag = <[u8; TAG_LEN]>::try_from(buffer.get(..len)?).ok()?;
            }
        }
        Some(tag)
    }

    pub(super) fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The length of a 32-byte tag once encoded; a candidate of any other length is
    /// dismissed before decoding.
    pub(super) fn encoded_len(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Encoding::Hex => 64..=64,
            Encoding::Base64 => 43..=44,
        }
    }
}

/// How the signatures are laid out in the signature header's value. Whatever the
/// format, every value of the header is read, and a delivery is authentic when any
/// candidate matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormat {
    /// Signatures separated by commas or white space, each optionally after `prefix`
    /// (`sha256=<hex>`, as GitHub and this crate's claimr and ChainVine defaults send).
    List {
        /// Accepted (not required) before a signature, such as `sha256=`.
        prefix: Option<String>,
    },
    /// Space-separated `version,signature` pairs (Standard Webhooks:
    /// `v1,<base64> v1,<base64>`); pairs of any other version are skipped.
    Versioned {
        /// The version read, such as `v1`.
        version: String,
    },
    /// Comma-separated `key=value` pairs (Stripe: `t=<unix>,v1=<hex>,v1=<hex>`); every
    /// value of `signature_key` is a candidate, and other keys are skipped (except a
    /// timestamp read with [`TimestampSource::SignatureKey`](super::TimestampSource::SignatureKey)).
    KeyValue {
        /// The key of the signatures, such as `v1`.
        signature_key: String,
    },
}

impl SignatureFormat {
    /// A `version,signature` list, reading `version`.
    pub fn versioned(version: impl Into<String>) -> Self {
        SignatureFormat::Versioned {
            version: version.into(),
        }
    }

    /// `key=value` pairs, reading the signatures under `signature_key`.
    pub fn key_value(signature_key: impl Into<String>) -> Self {
        SignatureFormat::KeyValue {
            signature_key: signature_key.into(),
        }
    }
}
