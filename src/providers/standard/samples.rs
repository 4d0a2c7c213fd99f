//! Standard Webhooks for tests (feature `testing`): its signer and a sample event.

use serde_json::{json, Value};

use super::Standard;
use crate::error::ConfigError;
use crate::secret::{Secret, SigningKey};
use crate::testing::samples::{fresh_id, now_rfc3339};
use crate::testing::{Sample, Signer};

impl Standard {
    /// Signs requests as a Standard Webhooks sender does, with a base64 (`whsec_…`)
    /// secret.
    ///
    /// # Errors
    ///
    /// As [`Secret::from_standard`].
    pub fn signer(secret: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::new(
            Self::default_scheme(),
            Secret::from_standard(secret)?,
        ))
    }

    /// Signs requests as a Standard Webhooks sender that signs asymmetrically does:
    /// `v1a,<base64 ed25519 signature>` with the `whsk_` signing key (base64 of its
    /// 32-byte seed, prefix optional). [`Signer::with_signing_key`] adds the `v1a` entry
    /// to a [`Standard::signer`]'s instead.
    ///
    /// ```
    /// use hookguard::Standard;
    ///
    /// let signer = Standard::asymmetric_signer("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")?
    ///     .at(1_614_265_330)
    ///     .with_message_id("msg_p5jXN8AQM9LWM0D4loKWxJek");
    /// let headers = signer.headers(br#"{"test": 2432232314}"#)?;
    /// // The Standard Webhooks reference libraries' vector.
    /// assert_eq!(
    ///     headers["webhook-signature"],
    ///     "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SigningKey::from_standard`].
    pub fn asymmetric_signer(signing_key: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::asymmetric(
            Self::default_scheme(),
            SigningKey::from_standard(signing_key)?,
        ))
    }

    /// A Standard Webhooks delivery of type `event_type`, with a fresh message id.
    pub fn sample(event_type: &str) -> Sample {
        let id = format!("msg_{}", fresh_id());
        let json = json!({
            "type": event_type,
            "timestamp": now_rfc3339(),
            "data": {
                "id": format!("inv_{}", fresh_id()),
                "customer": "6643219fa2c1b8e5d4f70a12",
                "amount": "49.00",
                "currency": "EUR"
            }
        });
        Sample::new("standard", event_type.to_owned(), id, json, set_user)
    }
}

/// The sample's customer stands for its user.
fn set_user(json: &mut Value, user: &str) {
    json["data"]["customer"] = json!(user);
}
