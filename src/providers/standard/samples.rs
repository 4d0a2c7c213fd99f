//! Standard Webhooks for tests (feature `testing`): its signer and a sample event.

use serde_json::{json, Value};

use super::Standard;
use crate::error::ConfigError;
use crate::secret::Secret;
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
