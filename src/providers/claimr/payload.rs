//! claimr's payload: one reference to the body and where each field is in it, read
//! through accessors.
//!
//! A payload does not copy its strings out of the body: it holds the body (one reference
//! count) and the span of each field, and its accessors hand out `&str`s of it. `meta`
//! stays raw JSON until asked for. Numbers are read when the body is.

use crate::event::RawJson;
use crate::json::scan::{by_view, Span, Text};

/// The body claimr sends for every hook: who did what, in which campaign, and the
/// user's points after it.
///
/// Only `id` and `scope` are required; claimr's page lists the other fields without
/// saying which hooks send which, so each of them is optional. Read them through the
/// accessors; they share the delivery's body instead of copying it. Two payloads are
/// equal when every field is; `Debug` and `Serialize` show the fields (`meta` as sent).
///
/// ```
/// use hookguard::claimr::Event;
///
/// let event = Event::from_slice(br#"{"id":"1","scope":"user_login","user":"u_7",
///     "campaign":{"id":"c_9","name":"Spring"},"total_xp":12.5}"#)?;
/// let payload = event.payload().expect("a known scope");
/// assert_eq!(payload.user(), Some("u_7"));
/// assert_eq!(payload.campaign().map(|c| c.name()), Some(Some("Spring")));
/// assert_eq!(payload.total_xp(), Some(12.5));
/// # Ok::<(), hookguard::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Payload {
    pub(super) text: Text,
    pub(super) id: Span,
    pub(super) scope: Span,
    pub(super) user: Option<Span>,
    pub(super) user_id: Option<Span>,
    pub(super) wallet: Option<Span>,
    pub(super) email: Option<Span>,
    pub(super) campaign: Option<CampaignSpans>,
    pub(super) event: Option<EventSpans>,
    pub(super) total_xp: Option<f64>,
    pub(super) ref_xp: Option<f64>,
    pub(super) ugc_xp: Option<f64>,
    pub(super) xp_mul: Option<f64>,
    pub(super) rank: Option<u64>,
    pub(super) team: Option<Span>,
}

/// Where a campaign's fields are.
#[derive(Clone, Copy, Debug)]
pub(super) struct CampaignSpans {
    pub(super) id: Span,
    pub(super) name: Option<Span>,
}

/// Where an activity event's fields are.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EventSpans {
    pub(super) kind: Option<Span>,
    pub(super) data: Option<DataSpans>,
}

/// Where an activity's data fields are.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DataSpans {
    pub(super) account: Option<Span>,
    pub(super) action: Option<ActionSpans>,
    pub(super) xp: Option<f64>,
}

/// Where an action's fields are.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ActionSpans {
    pub(super) id: Option<Span>,
    pub(super) name: Option<Span>,
    pub(super) kind: Option<Span>,
    pub(super) meta: Option<Span>,
}

fn text(text: &Text, span: Option<Span>) -> Option<&str> {
    span.map(|span| text.get(span))
}

impl Payload {
    /// The identifier of this webhook message (a JSON number is kept as its text).
    #[must_use]
    pub fn id(&self) -> &str {
        self.text.get(self.id)
    }

    /// Which hook fired: `user_activity`, `user_login`, `user_reward` or `referral`.
    #[must_use]
    pub fn scope(&self) -> &str {
        self.text.get(self.scope)
    }

    /// The ID of the user who acted.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        text(&self.text, self.user)
    }

    /// The ID of the user (claimr sends both `user` and `user_id`).
    #[must_use]
    pub fn user_id(&self) -> Option<&str> {
        text(&self.text, self.user_id)
    }

    /// The user's connected wallet address.
    #[must_use]
    pub fn wallet(&self) -> Option<&str> {
        text(&self.text, self.wallet)
    }

    /// The user's email address.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        text(&self.text, self.email)
    }

    /// The campaign the event belongs to.
    #[must_use]
    pub fn campaign(&self) -> Option<Campaign<'_>> {
        self.campaign.as_ref().map(|spans| Campaign {
            text: &self.text,
            spans,
        })
    }

    /// What happened, for hooks that report an action.
    #[must_use]
    pub fn event(&self) -> Option<ActivityEvent<'_>> {
        self.event.as_ref().map(|spans| ActivityEvent {
            text: &self.text,
            spans,
        })
    }

    /// The user's total points.
    #[must_use]
    pub fn total_xp(&self) -> Option<f64> {
        self.total_xp
    }

    /// Points the user earned from referrals.
    #[must_use]
    pub fn ref_xp(&self) -> Option<f64> {
        self.ref_xp
    }

    /// Points the user earned from user-generated content.
    #[must_use]
    pub fn ugc_xp(&self) -> Option<f64> {
        self.ugc_xp
    }

    /// The user's points multiplier.
    #[must_use]
    pub fn xp_mul(&self) -> Option<f64> {
        self.xp_mul
    }

    /// The user's rank.
    #[must_use]
    pub fn rank(&self) -> Option<u64> {
        self.rank
    }

    /// The user's team.
    #[must_use]
    pub fn team(&self) -> Option<&str> {
        text(&self.text, self.team)
    }

    fn view(&self) -> view::Payload<'_> {
        view::Payload {
            id: self.id(),
            scope: self.scope(),
            user: self.user(),
            user_id: self.user_id(),
            wallet: self.wallet(),
            email: self.email(),
            campaign: self.campaign().map(|campaign| campaign.view()),
            event: self.event().map(|event| event.view()),
            total_xp: self.total_xp,
            ref_xp: self.ref_xp,
            ugc_xp: self.ugc_xp,
            xp_mul: self.xp_mul,
            rank: self.rank,
            team: self.team(),
        }
    }
}

/// The campaign a claimr event belongs to (the `campaign` field), borrowed from its
/// [`Payload`].
#[derive(Clone, Copy)]
pub struct Campaign<'a> {
    text: &'a Text,
    spans: &'a CampaignSpans,
}

impl<'a> Campaign<'a> {
    /// The campaign's unique ID (a JSON number is kept as its text).
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.text.get(self.spans.id)
    }

    /// The campaign's name.
    #[must_use]
    pub fn name(&self) -> Option<&'a str> {
        text(self.text, self.spans.name)
    }

    fn view(&self) -> view::Campaign<'a> {
        view::Campaign {
            id: self.id(),
            name: self.name(),
        }
    }
}

/// What happened, in the payload's `event` field, borrowed from its [`Payload`].
#[derive(Clone, Copy)]
pub struct ActivityEvent<'a> {
    text: &'a Text,
    spans: &'a EventSpans,
}

impl<'a> ActivityEvent<'a> {
    /// The type of event, such as an action being completed (JSON `type`).
    #[must_use]
    pub fn kind(&self) -> Option<&'a str> {
        text(self.text, self.spans.kind)
    }

    /// More about the event.
    #[must_use]
    pub fn data(&self) -> Option<ActivityData<'a>> {
        self.spans.data.as_ref().map(|spans| ActivityData {
            text: self.text,
            spans,
        })
    }

    fn view(&self) -> view::ActivityEvent<'a> {
        view::ActivityEvent {
            kind: self.kind(),
            data: self.data().map(|data| data.view()),
        }
    }
}

/// More about an event (`event.data`): the account, the action and the points awarded.
#[derive(Clone, Copy)]
pub struct ActivityData<'a> {
    text: &'a Text,
    spans: &'a DataSpans,
}

impl<'a> ActivityData<'a> {
    /// The associated account (a JSON number is kept as its text).
    #[must_use]
    pub fn account(&self) -> Option<&'a str> {
        text(self.text, self.spans.account)
    }

    /// The action that was completed.
    #[must_use]
    pub fn action(&self) -> Option<Action<'a>> {
        self.spans.action.as_ref().map(|spans| Action {
            text: self.text,
            spans,
        })
    }

    /// The points awarded for it.
    #[must_use]
    pub fn xp(&self) -> Option<f64> {
        self.spans.xp
    }

    fn view(&self) -> view::ActivityData<'a> {
        view::ActivityData {
            account: self.account(),
            action: self.action().map(|action| action.view()),
            xp: self.xp(),
        }
    }
}

/// The action a user completed (`event.data.action`).
#[derive(Clone, Copy)]
pub struct Action<'a> {
    text: &'a Text,
    spans: &'a ActionSpans,
}

impl<'a> Action<'a> {
    /// The action's ID (a JSON number is kept as its text).
    #[must_use]
    pub fn id(&self) -> Option<&'a str> {
        text(self.text, self.spans.id)
    }

    /// The action's name.
    #[must_use]
    pub fn name(&self) -> Option<&'a str> {
        text(self.text, self.spans.name)
    }

    /// The action's type (JSON `type`).
    #[must_use]
    pub fn kind(&self) -> Option<&'a str> {
        text(self.text, self.spans.kind)
    }

    /// The action's additional metadata, whatever its shape, as sent: read it with
    /// [`RawJson::parse_as`]. It shares the event's text: a reference count, not a copy.
    #[must_use]
    pub fn meta(&self) -> Option<RawJson> {
        self.spans.meta.map(|span| self.text.raw_json(span))
    }

    fn view(&self) -> view::Action<'a> {
        view::Action {
            id: self.id(),
            name: self.name(),
            kind: self.kind(),
            meta: self.meta(),
        }
    }
}

/// The payload's fields as borrowed values: what `Debug`, `PartialEq` and `Serialize`
/// are derived on, so that they show values, not spans.
mod view {
    use serde::Serialize;

    use crate::event::RawJson;

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Payload<'a> {
        pub(super) id: &'a str,
        pub(super) scope: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) user: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) user_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) wallet: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) email: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) campaign: Option<Campaign<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) event: Option<ActivityEvent<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) total_xp: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) ref_xp: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) ugc_xp: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) xp_mul: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) rank: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) team: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Campaign<'a> {
        pub(super) id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) name: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct ActivityEvent<'a> {
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        pub(super) kind: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) data: Option<ActivityData<'a>>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct ActivityData<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) account: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) action: Option<Action<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) xp: Option<f64>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Action<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) name: Option<&'a str>,
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        pub(super) kind: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) meta: Option<RawJson>,
    }
}

by_view!(
    [Debug, PartialEq, Serialize]
    Payload,
    Campaign<'_>,
    ActivityEvent<'_>,
    ActivityData<'_>,
    Action<'_>
);
