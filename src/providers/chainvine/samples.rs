//! ChainVine for tests (feature `testing`): its signer and a sample of each event.

use serde_json::{json, Value};

use super::{ChainVine, EventKind};
use crate::error::ConfigError;
use crate::secret::Secret;
use crate::testing::samples::{fresh_id, fresh_uuid, now_rfc3339};
use crate::testing::{Sample, Signer};

impl ChainVine {
    /// Signs requests as ChainVine is assumed to ([`ChainVine::default_scheme`]), keyed
    /// with the secret's UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn signer(secret: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::new(Self::default_scheme(), Secret::new(secret)?))
    }

    /// A sample ChainVine delivery of `kind`, with a fresh `event_id` and `request_id`, sent now (an unknown kind gives a
    /// `CAMPAIGN_BUDGET_EXHAUSTED` event).
    pub fn sample(kind: EventKind) -> Sample {
        let event_id = fresh_uuid();
        let user = json!({
            "id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
            "email": "li.wei@example.net",
            "first_name": "Li",
            "last_name": "Wei",
            "wallet_address": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "external_identifier": "cust_000042"
        });
        let (name, data) = match kind {
            EventKind::UserJoinedCampaign => (
                "USER_JOINED_CAMPAIGN",
                json!({
                    "user_id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "user": user,
                    "referrer": "0x52908400098527886E0F7030069857D2E4169EE7",
                    "external_identifier": format!("join_{}", &event_id[..8])
                }),
            ),
            EventKind::ReferralConversion => (
                "REFERRAL_CONVERSION",
                json!({
                    "claimer": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                    "referrer": "0x52908400098527886E0F7030069857D2E4169EE7",
                    "external_identifier": format!("swap_{}", &event_id[..8])
                }),
            ),
            EventKind::EarningCreated => (
                "EARNING_CREATED",
                json!({
                    "userId": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "dateCreatedUtc": now_rfc3339(),
                    "user": {
                        "id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                        "email": "li.wei@example.net",
                        "firstName": "Li",
                        "lastName": "Wei",
                        "walletAddress": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                        "externalIdentifier": "cust_000042"
                    },
                    "reward": { "name": "ETH" },
                    "amount": "0.00398888889000003983"
                }),
            ),
            EventKind::PaymentRequest => (
                "PAYMENT_REQUEST",
                json!({
                    "payment_request_id": format!("pr_{}", fresh_id()),
                    "user_id": "9a8b7c6d-5e4f-4321-8fed-cba987654321",
                    "user": user,
                    "reward": { "name": "USDC" },
                    "amount": "15.000",
                    "currency": "USDC",
                    "wallet_address": "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                    "chain_id": 137
                }),
            ),
            _ => (
                "CAMPAIGN_BUDGET_EXHAUSTED",
                json!({
                    "campaign_id": "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60",
                    "budget": "5000.0000",
                    "spent": "5000.0000"
                }),
            ),
        };
        let json = json!({
            "source": {
                "campaign": {
                    "name": "Summer Referral Drive",
                    "created_on": "2024-04-02T15:04:05.000Z",
                    "id": "8f14e45f-ceea-467e-a9f2-3c1b2d4e5f60"
                },
                "community": { "name": "Lumen Wallet", "id": "2b7c9d1e-4f3a-4b8c-9d0e-1f2a3b4c5d6e" }
            },
            "event": { "name": name, "data": data },
            "version": "1.0",
            "secure_request": true,
            "request_id": fresh_uuid(),
            "event_id": event_id,
            "sent_at": now_rfc3339()
        });
        Sample::new("chainvine", name.to_owned(), event_id, json, set_user)
    }
}

/// ChainVine names the user in its events' data: `user_id`, `userId`, `user.id`.
fn set_user(json: &mut Value, user: &str) {
    let data = &mut json["event"]["data"];
    for key in ["user_id", "userId"] {
        if data.get(key).is_some() {
            data[key] = json!(user);
        }
    }
    if data.get("user").is_some() {
        data["user"]["id"] = json!(user);
    }
}
