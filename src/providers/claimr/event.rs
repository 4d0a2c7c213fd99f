//! claimr's event types: the flat payload, and the event by the hook that fired.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::Payload;
use crate::event::{ByteString, RawJson};

/// A claimr webhook delivery, by the hook that fired.
///
/// Serializes as the payload (or, for [`Event::Unknown`], the raw body), so a handler can
/// re-emit what it received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A user acted within a campaign (completed a task, claimed a reward): `user_activity`.
    UserActivity(Payload),
    /// A user logged in to claimr: `user_login`.
    UserLogin(Payload),
    /// A user claimed a reward: `user_reward`.
    UserReward(Payload),
    /// A referral-related event, such as a sign-up through a referral link: `referral`.
    Referral(Payload),
    /// A `scope` this crate does not know, with the body's raw JSON.
    Unknown(Unknown),
}

/// A claimr delivery whose `scope` this crate does not know, kept as sent.
#[derive(Debug, Clone)]
pub struct Unknown {
    /// The message's `id`, if the body has one that is a string or a number.
    pub id: Option<ByteString>,
    /// The `scope` as sent.
    pub scope: ByteString,
    /// The whole body's JSON text, exactly as sent (less surrounding whitespace).
    pub raw: RawJson,
}

/// Which claimr hook fired: what handlers are registered for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `user_activity`: a user acted within a campaign.
    UserActivity,
    /// `user_login`: a user logged in.
    UserLogin,
    /// `user_reward`: a user claimed a reward.
    UserReward,
    /// `referral`: a referral-related event.
    Referral,
    /// Any other `scope`.
    Unknown,
}

impl EventKind {
    /// Every kind this crate has a type for, in the order of claimr's page.
    pub const KNOWN: [EventKind; 4] = [
        EventKind::UserActivity,
        EventKind::UserLogin,
        EventKind::UserReward,
        EventKind::Referral,
    ];

    /// The `scope` claimr sends for this kind (`"unknown"` for [`EventKind::Unknown`]).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::UserActivity => "user_activity",
            EventKind::UserLogin => "user_login",
            EventKind::UserReward => "user_reward",
            EventKind::Referral => "referral",
            EventKind::Unknown => "unknown",
        }
    }

    /// The kind a `scope` names; any scope but the four known ones is
    /// [`EventKind::Unknown`] (matching is exact and case-sensitive).
    #[must_use]
    pub fn from_name(scope: &str) -> EventKind {
        match scope {
            "user_activity" => EventKind::UserActivity,
            "user_login" => EventKind::UserLogin,
            "user_reward" => EventKind::UserReward,
            "referral" => EventKind::Referral,
            _ => EventKind::Unknown,
        }
    }
}

impl crate::event::EventKind for EventKind {
    type Event = Event;
}

impl FromStr for EventKind {
    type Err = Infallible;

    /// Same as [`EventKind::from_name`]: never fails.
    fn from_str(scope: &str) -> Result<Self, Self::Err> {
        Ok(EventKind::from_name(scope))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The payload of a known hook; `None` for [`Event::Unknown`].
    #[must_use]
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            Event::UserActivity(payload)
            | Event::UserLogin(payload)
            | Event::UserReward(payload)
            | Event::Referral(payload) => Some(payload),
            Event::Unknown(_) => None,
        }
    }

    /// The payload of a known hook, by value; `None` for [`Event::Unknown`].
    #[must_use]
    pub fn into_payload(self) -> Option<Payload> {
        match self {
            Event::UserActivity(payload)
            | Event::UserLogin(payload)
            | Event::UserReward(payload)
            | Event::Referral(payload) => Some(payload),
            Event::Unknown(_) => None,
        }
    }
}

impl Event {
    /// Which kind of event this is.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Event::UserActivity(_) => EventKind::UserActivity,
            Event::UserLogin(_) => EventKind::UserLogin,
            Event::UserReward(_) => EventKind::UserReward,
            Event::Referral(_) => EventKind::Referral,
            Event::Unknown(_) => EventKind::Unknown,
        }
    }

    /// The `scope` as sent.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Event::UserActivity(payload)
            | Event::UserLogin(payload)
            | Event::UserReward(payload)
            | Event::Referral(payload) => payload.scope(),
            Event::Unknown(unknown) => &unknown.scope,
        }
    }

    /// The message `id`; empty for an unknown event that had no usable `id`.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Event::UserActivity(payload)
            | Event::UserLogin(payload)
            | Event::UserReward(payload)
            | Event::Referral(payload) => payload.id(),
            Event::Unknown(unknown) => unknown.id.as_deref().unwrap_or(""),
        }
    }

    /// Whether the event is one this crate has no type for.
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        matches!(self, Event::Unknown(_))
    }

    /// The id of the campaign the event belongs to (`campaign.id`); `None` when the
    /// payload names no campaign, names one with a blank id, or the scope is unknown.
    ///
    /// ```
    /// use hookguard::claimr::Event;
    ///
    /// let event = Event::from_slice(br#"{"id":"1","scope":"user_login","campaign":{"id":"c_7"}}"#)?;
    /// assert_eq!(event.campaign(), Some("c_7"));
    /// # Ok::<(), hookguard::ParseError>(())
    /// ```
    #[must_use]
    pub fn campaign(&self) -> Option<&str> {
        let id = self.payload()?.campaign()?.id();
        Some(id).filter(|id| !id.trim().is_empty())
    }
}

crate::event::webhook_event_by_inherent_methods!(
    Event,
    EventKind,
    fn campaign(&self) -> Option<&str> {
        Event::campaign(self)
    }
);

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Event::UserActivity(payload)
            | Event::UserLogin(payload)
            | Event::UserReward(payload)
            | Event::Referral(payload) => payload.serialize(serializer),
            Event::Unknown(unknown) => unknown.serialize(serializer),
        }
    }
}

impl Serialize for Unknown {
    /// Writes the raw body back, unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::ParseError;

    const USER_ACTIVITY: &[u8] =
        include_bytes!("../../../tests/fixtures/claimr/user_activity.json");
    const USER_LOGIN: &[u8] = include_bytes!("../../../tests/fixtures/claimr/user_login.json");
    const USER_REWARD: &[u8] = include_bytes!("../../../tests/fixtures/claimr/user_reward.json");
    const REFERRAL: &[u8] = include_bytes!("../../../tests/fixtures/claimr/referral.json");
    const UNKNOWN_SCOPE: &[u8] =
        include_bytes!("../../../tests/fixtures/claimr/unknown_scope.json");

    fn data_error_path(body: &[u8]) -> String {
        match Event::from_slice(body) {
            Err(ParseError::Data { path, .. }) => path,
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_types_name_the_public_struct() {
        // Users match on these messages; they name the public type, as they always did.
        let cases = [
            (
                r#"{"id":"1","scope":"user_login","campaign":"x"}"#,
                "campaign",
                "expected struct Campaign",
            ),
            (
                r#"{"id":"1","scope":"user_activity","event":"x"}"#,
                "event",
                "expected struct ActivityEvent",
            ),
            (
                r#"{"id":"1","scope":"user_activity","event":{"data":1}}"#,
                "event.data",
                "expected struct ActivityData",
            ),
            (
                r#"{"id":"1","scope":"user_activity","event":{"data":{"action":"x"}}}"#,
                "event.data.action",
                "expected struct Action",
            ),
        ];
        for (body, path, expected) in cases {
            match Event::from_slice(body.as_bytes()) {
                Err(ParseError::Data { path: at, message }) => {
                    assert_eq!(at, path, "{body}");
                    assert!(
                        message.contains(expected),
                        "{message} (wanted {expected:?})"
                    );
                }
                other => panic!("expected a data error for {body}, got {other:?}"),
            }
        }
    }

    #[test]
    fn user_activity_fixture() {
        let event = Event::from_slice(USER_ACTIVITY).unwrap();
        assert_eq!(event.kind(), EventKind::UserActivity);
        assert_eq!(event.name(), "user_activity");
        assert_eq!(event.id(), "a6f1c2e4-3b7d-4c8e-9f10-2d5e8b7a9c31");
        assert!(!event.is_unknown());
        assert_eq!(
            crate::Provider::name(&crate::Claimr::new("s").unwrap()),
            "claimr"
        );
        let Event::UserActivity(payload) = &event else {
            panic!("wrong variant: {event:?}");
        };
        assert_eq!(
            serde_json::to_value(payload).unwrap(),
            serde_json::json!({
                "id": "a6f1c2e4-3b7d-4c8e-9f10-2d5e8b7a9c31",
                "scope": "user_activity",
                "user": "6643219fa2c1b8e5d4f70a12",
                "user_id": "6643219fa2c1b8e5d4f70a12",
                "wallet": "0x9f3b2C7a1E4d5F6081a2B3c4D5e6F708192a3B4c",
                "email": "maria.kowalska@example.com",
                "campaign": {"id": "66421b0c9e8f7a6b5c4d3e2f", "name": "Summer Quest 2024"},
                "event": {
                    "type": "action_completed",
                    "data": {
                        "account": "@maria_k",
                        "action": {
                            "id": "665a0e7d4b3c2a1f0e9d8c7b",
                            "name": "Follow @claimr_io on X",
                            "type": "twitter_follow",
                            "meta": {"handle": "claimr_io", "verified": true}
                        },
                        "xp": 50.0
                    }
                },
                "total_xp": 1250.0,
                "ref_xp": 200.0,
                "ugc_xp": 75.5,
                "xp_mul": 1.25,
                "rank": 18,
                "team": "Blue Whales"
            })
        );
        let action = payload.event().unwrap().data().unwrap().action().unwrap();
        assert_eq!(action.name(), Some("Follow @claimr_io on X"));
        assert_eq!(
            action.meta(),
            Some(RawJson::new(r#"{"handle": "claimr_io", "verified": true}"#).unwrap())
        );
        assert_eq!(
            payload.campaign().unwrap().name(),
            Some("Summer Quest 2024")
        );
        assert_eq!(payload.xp_mul(), Some(1.25));
        // The serde path reads the same payload.
        let serde: Payload = serde_json::from_slice(USER_ACTIVITY).unwrap();
        assert_eq!(&serde, payload);
    }

    #[test]
    fn user_login_fixture_with_nulls() {
        let event = Event::from_slice(USER_LOGIN).unwrap();
        assert_eq!(event.kind(), EventKind::UserLogin);
        assert!(matches!(event, Event::UserLogin(_)));
        let payload = event.payload().unwrap();
        assert_eq!(payload.id(), "0c3e9b1a-7d52-4f6e-8a14-5b9c2d7e6f03");
        let data = payload.event().unwrap().data().unwrap();
        assert_eq!(data.account(), Some("google-oauth2|109384756120394857612"));
        assert!(data.action().is_none());
        assert_eq!(data.xp(), Some(5.0));
        assert_eq!(payload.total_xp(), Some(1255.0));
        assert_eq!(payload.team(), None);
    }

    #[test]
    fn user_reward_fixture() {
        let event = Event::from_slice(USER_REWARD).unwrap();
        assert_eq!(event.kind(), EventKind::UserReward);
        let Event::UserReward(payload) = event else {
            panic!("wrong variant");
        };
        assert_eq!(payload.user(), Some("66432a7be1d0c9f8a7b6c5d4"));
        assert_eq!(payload.email(), Some("jonas.berg@example.org"));
        let action = payload.event().unwrap().data().unwrap().action().unwrap();
        assert_eq!(action.kind(), Some("reward"));
        assert_eq!(
            action
                .meta()
                .unwrap()
                .parse_as::<serde_json::Value>()
                .unwrap()["reward"],
            serde_json::json!("Early Supporter NFT")
        );
        assert_eq!(payload.total_xp(), Some(3120.5));
        assert_eq!(payload.rank(), Some(3));
        assert_eq!(payload.team(), Some("Night Owls"));
    }

    #[test]
    fn referral_fixture() {
        let event = Event::from_slice(REFERRAL).unwrap();
        assert_eq!(event.kind(), EventKind::Referral);
        assert_eq!(event.id(), "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
        let payload = event.into_payload().unwrap();
        let activity = payload.event().unwrap();
        assert_eq!(activity.kind(), Some("referral_signup"));
        let data = activity.data().unwrap();
        assert_eq!(data.account(), Some("6645c3d2e1f0a9b8c7d6e5f4"));
        assert_eq!(data.xp(), Some(100.0));
        assert_eq!(payload.ref_xp(), Some(300.0));
    }

    #[test]
    fn unknown_scope_of_another_shape_keeps_the_raw_body() {
        let event = Event::from_slice(UNKNOWN_SCOPE).unwrap();
        assert!(event.is_unknown());
        assert_eq!(event.kind(), EventKind::Unknown);
        assert_eq!(event.name(), "user_level_up");
        assert_eq!(event.id(), "3d2c1b0a-9f8e-4d7c-a6b5-4c3d2e1f0a9b");
        assert!(event.payload().is_none());
        let Event::Unknown(unknown) = &event else {
            panic!("wrong variant");
        };
        let body = std::str::from_utf8(UNKNOWN_SCOPE).unwrap();
        assert_eq!(unknown.raw.get(), body.trim());
        assert_eq!(serde_json::to_string(&event).unwrap(), body.trim());
    }

    #[test]
    fn unknown_scope_of_the_payload_shape_keeps_the_raw_body() {
        let body = br#"{"id":"m-1","scope":"quest_completed","user":"u1","rank":2}"#;
        let Event::Unknown(unknown) = Event::from_slice(body).unwrap() else {
            panic!("expected an unknown event");
        };
        assert_eq!(unknown.id.as_deref(), Some("m-1"));
        assert_eq!(unknown.scope, "quest_completed");
        assert_eq!(unknown.raw.get().as_bytes(), body);
    }

    #[test]
    fn unknown_scope_without_a_usable_id() {
        let event = Event::from_slice(br#"{"scope":"new_hook","id":{"x":1}}"#).unwrap();
        assert!(event.is_unknown());
        assert_eq!(event.id(), "");
        let event = Event::from_slice(br#"{"scope":"new_hook"}"#).unwrap();
        assert_eq!(event.id(), "");
        let event = Event::from_slice(br#"{"scope":"new_hook","id":77}"#).unwrap();
        assert_eq!(event.id(), "77");
    }

    #[test]
    fn scope_matching_is_exact() {
        let event = Event::from_slice(br#"{"id":"1","scope":"User_Activity"}"#).unwrap();
        assert!(event.is_unknown());
        assert_eq!(event.name(), "User_Activity");
    }

    #[test]
    fn malformed_json_is_a_syntax_error() {
        for body in [
            &b"{\"id\": \"1\", \"scope\": \"user_activity\""[..],
            b"",
            b"not json",
            b"{\"id\":\"1\",\"scope\":\"user_login\"} trailing",
            &USER_ACTIVITY[..USER_ACTIVITY.len() / 2],
        ] {
            assert!(
                matches!(Event::from_slice(body), Err(ParseError::Syntax { .. })),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases: [(&[u8], &str); 6] = [
            (
                br#"{"id":"1","scope":"user_activity","campaign":{"id":true}}"#,
                "campaign.id",
            ),
            (br#"{"id":"1","scope":"user_login","rank":"first"}"#, "rank"),
            (br#"{"id":"1","scope":"user_login","rank":-3}"#, "rank"),
            (
                br#"{"id":"1","scope":"referral","event":{"data":{"xp":"ten"}}}"#,
                "event.data.xp",
            ),
            (
                br#"{"id":"1","scope":"user_reward","event":{"data":{"action":{"id":1.5}}}}"#,
                "event.data.action.id",
            ),
            (br#"{"id":[1],"scope":"user_activity"}"#, "id"),
        ];
        for (body, path) in cases {
            assert_eq!(
                data_error_path(body),
                path,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn scope_must_be_a_string() {
        assert_eq!(data_error_path(br#"{"id":"1","user":"u"}"#), "scope");
        assert_eq!(data_error_path(br#"{"id":"1","scope":null}"#), "scope");
        assert_eq!(data_error_path(br#"{"id":"1","scope":7}"#), "scope");
        assert_eq!(data_error_path(b"{}"), "scope");
        match Event::from_slice(br#"{"id":"1"}"#) {
            Err(ParseError::Data { message, .. }) => {
                assert!(message.contains("scope"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_scope_without_id_is_a_data_error() {
        assert_eq!(data_error_path(br#"{"scope":"user_activity"}"#), "id");
        assert_eq!(
            data_error_path(br#"{"scope":"user_login","id":null}"#),
            "id"
        );
        assert_eq!(data_error_path(br#"{"scope":"referral","id":1.5}"#), "id");
        // A missing field deeper down keeps its own path.
        assert_eq!(
            data_error_path(br#"{"id":"1","scope":"referral","campaign":{"name":"x"}}"#),
            "campaign"
        );
    }

    #[test]
    fn non_objects_are_data_errors() {
        for body in [&b"[]"[..], b"\"user_activity\"", b"null", b"42"] {
            assert!(matches!(
                Event::from_slice(body),
                Err(ParseError::Data { .. })
            ));
        }
    }

    #[test]
    fn numeric_ids_are_kept_as_strings() {
        let body = br#"{
            "id": 987654321, "scope": "user_activity", "user": 42, "user_id": -7,
            "campaign": {"id": 1001, "name": null},
            "event": {"type": null, "data": {"account": 5550001, "action": {"id": 12}}}
        }"#;
        let payload = Event::from_slice(body).unwrap().into_payload().unwrap();
        assert_eq!(payload.id(), "987654321");
        assert_eq!(payload.user(), Some("42"));
        assert_eq!(payload.user_id(), Some("-7"));
        let campaign = payload.campaign().unwrap();
        assert_eq!((campaign.id(), campaign.name()), ("1001", None));
        let data = payload.event().unwrap().data().unwrap();
        assert_eq!(data.account(), Some("5550001"));
        assert_eq!(data.action().unwrap().id(), Some("12"));
    }

    #[test]
    fn nulls_and_unknown_fields_are_fine() {
        let body = br#"{
            "id": "m-9", "scope": "user_reward", "user": null, "user_id": null,
            "wallet": null, "email": null, "campaign": null, "event": null,
            "total_xp": null, "ref_xp": null, "ugc_xp": null, "xp_mul": null,
            "rank": null, "team": null, "created_at": "2024-05-14T09:31:02.123Z",
            "extra": {"nested": [1, 2, 3]}
        }"#;
        let payload = Event::from_slice(body).unwrap().into_payload().unwrap();
        assert_eq!(
            serde_json::to_value(&payload).unwrap(),
            serde_json::json!({"id": "m-9", "scope": "user_reward"})
        );
        assert_eq!(payload.user(), None);
        assert!(payload.campaign().is_none() && payload.event().is_none());
        assert_eq!(payload.rank(), None);
    }

    #[test]
    fn payload_serializes_back_to_an_equal_payload() {
        for body in [USER_ACTIVITY, USER_LOGIN, USER_REWARD, REFERRAL] {
            let event = Event::from_slice(body).unwrap();
            let json = serde_json::to_vec(&event).unwrap();
            let again = Event::from_slice(&json).unwrap();
            assert_eq!(again.kind(), event.kind());
            assert_eq!(again.payload(), event.payload());
        }
        let minimal = Event::from_slice(br#"{"id":"1","scope":"referral","team":null}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&minimal).unwrap(),
            r#"{"id":"1","scope":"referral"}"#
        );
    }

    #[test]
    fn event_kinds_round_trip_through_their_scope() {
        for kind in EventKind::KNOWN {
            assert_eq!(EventKind::from_name(kind.as_str()), kind);
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(EventKind::Unknown.as_str(), "unknown");
        assert_eq!(EventKind::from_name("unknown"), EventKind::Unknown);
        assert_eq!(EventKind::from_name(""), EventKind::Unknown);
    }
}
