//! Asymmetric signatures: Standard Webhooks' `v1a`, ed25519 over the same signed content
//! as the HMAC, checked against the receiver's public keys.
//!
//! Verification is `ed25519-dalek`'s `verify_strict`, which refuses what plain ed25519
//! verification lets through: a signature whose `s` is not reduced (the malleable
//! `s + ℓ` twin of a valid one), an `R` or a public key of small order (with which one
//! signature can verify for several messages or keys). A receiver that logs or dedups by
//! signature, or that trusts a key set, can then rely on one valid signature per
//! message and key. Nothing here is secret (signatures and public keys are public), so
//! the loop may stop at the first signature that verifies.

use base64::Engine as _;
use ed25519_dalek::Signature;

use super::format::BASE64;
use crate::secret::PublicKeySet;

/// Bytes in an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// At most this many asymmetric signatures are tried per delivery (each is checked
/// against each public key, hashing the whole signed content every time): a sender signs
/// with its current key pair and, while rotating, its previous one, so four leave room,
/// and a request of sixteen forged `v1a` entries costs no more than four.
pub const MAX_ASYMMETRIC_CANDIDATES: usize = 4;

/// At most this many strict verifications (candidates times public keys) per delivery,
/// each a SHA-512 of the whole signed content: a forged delivery costs a bounded amount
/// of work however many keys the receiver holds. A sender's own signature is checked
/// against every key before the next candidate, so a genuine delivery from a sender
/// signing with one key verifies with up to four keys configured.
pub const MAX_ASYMMETRIC_VERIFICATIONS: usize = 4;

/// The scalar order ℓ of the base point, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether a signature's `s` (its last 32 bytes, little-endian) is below ℓ. Checked here
/// as well as by `verify_strict`: were another crate in the build to enable
/// ed25519-dalek's `legacy_compatibility`, its own check would let the `s + ℓ` twin of
/// a valid signature through.
fn s_is_reduced(signature: &[u8; SIGNATURE_LEN]) -> bool {
    for (byte, ell) in signature[32..].iter().zip(ELL).rev() {
        if *byte != ell {
            return *byte < ell;
        }
    }
    false
}

/// Decodes one base64 candidate into a 64-byte signature, without allocating; `None`
/// unless `text` is 86 to 88 characters that decode to exactly [`SIGNATURE_LEN`] bytes.
pub(super) fn decode_signature(text: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    if !(86..=88).contains(&text.len()) {
        return None;
    }
    // base64 asks for room for its estimate (66 bytes for 88 characters).
    let mut buffer = [0u8; SIGNATURE_LEN + 3];
    let len = BASE64.decode_slice(text, &mut buffer).ok()?;
    <[u8; SIGNATURE_LEN]>::try_from(buffer.get(..len)?).ok()
}

/// Up to [`MAX_ASYMMETRIC_CANDIDATES`] decoded signatures, on the stack.
pub(super) struct Signatures {
    signatures: [[u8; SIGNATURE_LEN]; MAX_ASYMMETRIC_CANDIDATES],
    len: usize,
}

impl Signatures {
    pub(super) fn new() -> Self {
        Self {
            signatures: [[0; SIGNATURE_LEN]; MAX_ASYMMETRIC_CANDIDATES],
            len: 0,
        }
    }

    /// Adds a signature; past [`MAX_ASYMMETRIC_CANDIDATES`] it is dismissed.
    pub(super) fn push(&mut self, signature: [u8; SIGNATURE_LEN]) {
        if let Some(slot) = self.signatures.get_mut(self.len) {
            *slot = signature;
            self.len += 1;
        }
    }

    pub(super) fn as_slice(&self) -> &[[u8; SIGNATURE_LEN]] {
        self.signatures.get(..self.len).unwrap_or(&self.signatures)
    }
}

/// Whether any of `candidates` is a strictly valid ed25519 signature of `message` by any
/// of `keys`.
pub(super) fn verify_any(
    keys: &PublicKeySet,
    message: &[u8],
    candidates: &[[u8; SIGNATURE_LEN]],
) -> bool {
    let mut budget = MAX_ASYMMETRIC_VERIFICATIONS;
    for (n, candidate) in candidates.iter().enumerate() {
        // A repeated candidate would only spend the budget again.
        if !s_is_reduced(candidate) || candidates[..n].contains(candidate) {
            continue;
        }
        let signature = Signature::from_bytes(candidate);
        for key in keys.keys() {
            if budget == 0 {
                return false;
            }
            budget -= 1;
            if key
                .verifying_key()
                .verify_strict(message, &signature)
                .is_ok()
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{PublicKey, SigningKey};

    fn keys(key: &SigningKey) -> PublicKeySet {
        PublicKeySet::new([key.public_key()]).unwrap()
    }

    #[test]
    fn only_64_bytes_of_base64_decode() {
        let signature = [0xa5u8; 64];
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signature);
        assert_eq!(text.len(), 88);
        assert_eq!(decode_signature(text.as_bytes()), Some(signature));
        assert_eq!(
            decode_signature(text.trim_end_matches('=').as_bytes()),
            Some(signature)
        );
        assert_eq!(decode_signature(&text.as_bytes()[..80]), None);
        assert_eq!(decode_signature(format!("{text}AAAA").as_bytes()), None);
        assert_eq!(decode_signature(text.replace('p', "!").as_bytes()), None);
        // 32 bytes (an HMAC tag) are not a signature.
        assert_eq!(
            decode_signature(b"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            None
        );
        assert_eq!(decode_signature(b""), None);
    }

    #[test]
    fn a_signature_with_a_small_order_r_is_refused_though_plain_verification_takes_it() {
        use ed25519_dalek::Verifier as _;
        let key = SigningKey::from_seed([9; 32]);
        let message = b"msg_1.1700000000.{}";
        // R is the identity point (a small-order point); s makes the plain equation hold.
        let s = hex::decode("de26567ed0db42b5a4cf162050bff530e8e1d0ea91f0e74f7f74fe76b106b901")
            .unwrap();
        let mut forged = [0u8; SIGNATURE_LEN];
        forged[0] = 1;
        forged[32..].copy_from_slice(&s);
        let public = key.public_key();
        assert!(
            public
                .verifying_key()
                .verify(message, &Signature::from_bytes(&forged))
                .is_ok(),
            "the vector is one that only strict verification refuses"
        );
        assert!(!verify_any(&keys(&key), message, &[forged]));
    }

    #[test]
    fn the_work_per_delivery_is_bounded_by_candidates_times_keys() {
        let signer = SigningKey::from_seed([3; 32]);
        let message = b"msg_1.1700000000.{}";
        let good = signer.sign(message);
        // Five keys, the signer's last: its signature needs five verifications.
        let others: Vec<_> = (10u8..14)
            .map(|n| SigningKey::from_seed([n; 32]).public_key())
            .collect();
        let mut five = others.clone();
        five.push(signer.public_key());
        let five = PublicKeySet::new(five).unwrap();
        assert!(!verify_any(&five, message, &[good]));
        // With the signer's key among the first four it verifies.
        let mut four = vec![signer.public_key()];
        four.extend(others);
        let four = PublicKeySet::new(four).unwrap();
        assert!(verify_any(&four, message, &[good]));
        // Forged candidates first use the budget up.
        assert!(!verify_any(&four, message, &[[7; SIGNATURE_LEN], good]));
        // A repeated candidate does not spend it twice.
        let one = keys(&signer);
        let forged = [7; SIGNATURE_LEN];
        assert!(verify_any(&one, message, &[forged, forged, forged, good]));
    }

    #[test]
    fn s_is_reduced_exactly_below_ell() {
        let mut signature = [0u8; SIGNATURE_LEN];
        signature[32..].copy_from_slice(&ELL);
        assert!(!s_is_reduced(&signature));
        signature[32] -= 1;
        assert!(s_is_reduced(&signature));
        signature[32..].copy_from_slice(&[0xff; 32]);
        assert!(!s_is_reduced(&signature));
    }

    #[test]
    fn a_malleated_signature_is_refused() {
        let key = SigningKey::from_seed([9; 32]);
        let message = b"msg_1.1700000000.{}";
        let good = key.sign(message);
        assert!(verify_any(&keys(&key), message, &[good]));
        // s + ℓ: the same point equation holds, so plain verification would accept
        // it were `s` not checked to be reduced.
        let mut twin = good;
        let mut carry = 0u16;
        for (byte, ell) in twin[32..].iter_mut().zip(ELL) {
            let sum = u16::from(*byte) + u16::from(ell) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert_ne!(twin, good);
        assert!(!verify_any(&keys(&key), message, &[twin]));
    }

    #[test]
    fn another_key_another_message_or_a_flipped_bit_is_refused() {
        let key = SigningKey::from_seed([3; 32]);
        let other = SigningKey::from_seed([4; 32]);
        let message = b"msg_1.1700000000.{\"a\":1}";
        let good = key.sign(message);
        assert!(!verify_any(&keys(&other), message, &[good]));
        assert!(!verify_any(
            &keys(&key),
            b"msg_1.1700000000.{\"a\":2}",
            &[good]
        ));
        for bit in [0, 7, 255, 256, 511] {
            let mut flipped = good;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify_any(&keys(&key), message, &[flipped]), "bit {bit}");
        }
        // Any of several keys and candidates.
        let both = PublicKeySet::new([other.public_key(), key.public_key()]).unwrap();
        assert!(verify_any(&both, message, &[[0; 64], good]));
        assert!(!verify_any(&PublicKeySet::empty(), message, &[good]));
    }

    #[test]
    fn the_reference_libraries_vector_verifies() {
        // Standard Webhooks' Go library test (`TestAsymmetricWebhookSign`), whose
        // signature PyNaCl reproduces from the same seed.
        let key =
            SigningKey::from_standard("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
        let message = br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#;
        let expected = decode_signature(
            b"tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==",
        )
        .unwrap();
        assert_eq!(key.sign(message), expected);
        let public =
            PublicKey::from_standard("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=").unwrap();
        assert!(verify_any(
            &PublicKeySet::new([public]).unwrap(),
            message,
            &[expected]
        ));
    }

    #[test]
    fn candidates_past_the_bound_are_dismissed() {
        let mut signatures = Signatures::new();
        for n in 0..10u8 {
            signatures.push([n; 64]);
        }
        assert_eq!(signatures.as_slice().len(), MAX_ASYMMETRIC_CANDIDATES);
        assert_eq!(signatures.as_slice()[3], [3; 64]);
    }
}
