//! claimr for tests (feature `testing`): its signer and a sample of each hook.

use serde_json::{json, Value};

use super::{Claimr, EventKind};
use crate::error::ConfigError;
use crate::secret::Secret;
use crate::testing::samples::fresh_uuid;
use crate::testing::{Sample, Signer};

impl Claimr {
    /// Signs requests as claimr is assumed to ([`Claimr::default_scheme`]), keyed with
    /// the secret's UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigError::EmptySecret`] when the secret is empty.
    pub fn signer(secret: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::new(Self::default_scheme(), Secret::new(secret)?))
    }

    /// A sample claimr delivery of `kind`, with a fresh `id` (an unknown kind gives a `user_level_up` scope).
    pub fn sample(kind: EventKind) -> Sample {
        let id = fresh_uuid();
        let campaign = json!({ "id": "66421b0c9e8f7a6b5c4d3e2f", "name": "Summer Quest 2024" });
        let (scope, event, total_xp) = match kind {
            EventKind::UserActivity => (
                "user_activity",
                json!({
                    "type": "action_completed",
                    "data": {
                        "account": "@maria_k",
                        "action": {
                            "id": "665a0e7d4b3c2a1f0e9d8c7b",
                            "name": "Follow @claimr_io on X",
                            "type": "twitter_follow",
                            "meta": { "handle": "claimr_io", "verified": true }
                        },
                        "xp": 50
                    }
                }),
                1250,
            ),
            EventKind::UserLogin => (
                "user_login",
                json!({
                    "type": "login",
                    "data": { "account": "google-oauth2|109384756120394857612", "action": null, "xp": 5 }
                }),
                1255,
            ),
            EventKind::UserReward => (
                "user_reward",
                json!({
                    "type": "reward_claimed",
                    "data": {
                        "account": "0x9f3b2C7a1E4d5F6081a2B3c4D5e6F708192a3B4c",
                        "action": {
                            "id": "665b1f2e3d4c5b6a79880a1b",
                            "name": "Top 100 raffle",
                            "type": "reward",
                            "meta": { "reward": "Early Supporter NFT", "chain": "polygon", "token_id": "4411" }
                        },
                        "xp": 0
                    }
                }),
                1255,
            ),
            EventKind::Referral => (
                "referral",
                json!({
                    "type": "referral_signup",
                    "data": {
                        "account": "6645c3d2e1f0a9b8c7d6e5f4",
                        "action": {
                            "id": "ref_link",
                            "name": "Invite a friend",
                            "type": "referral",
                            "meta": { "referred_email": "li.wei@example.net", "code": "MARIAK24" }
                        },
                        "xp": 100
                    }
                }),
                1355,
            ),
            _ => (
                "user_level_up",
                json!({ "type": "level_up", "data": { "previous": 4, "current": 5 } }),
                2000,
            ),
        };
        let json = json!({
            "id": id,
            "scope": scope,
            "user": "6643219fa2c1b8e5d4f70a12",
            "user_id": "6643219fa2c1b8e5d4f70a12",
            "wallet": "0x9f3b2C7a1E4d5F6081a2B3c4D5e6F708192a3B4c",
            "email": "maria.kowalska@example.com",
            "campaign": campaign,
            "event": event,
            "total_xp": total_xp,
            "ref_xp": 200,
            "ugc_xp": 75.5,
            "xp_mul": 1.25,
            "rank": 18,
            "team": "Blue Whales"
        });
        Sample::new("claimr", scope.to_owned(), id, json, set_user)
    }
}

/// claimr names the user in `user` and `user_id`.
fn set_user(json: &mut Value, user: &str) {
    json["user"] = json!(user);
    json["user_id"] = json!(user);
}
