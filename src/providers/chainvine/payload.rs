//! ChainVine's event data, one type per event: each holds the delivery's body (one
//! reference count) and where each of its fields is, read through accessors.
//!
//! The data does not copy its strings out of the body, nor take a reference to the body
//! per field: a field is a span of the one text the data holds, and an accessor hands out
//! a `&str` of it. Amounts, timestamps and raw JSON are built when asked for, sharing the
//! body's bytes.

use serde::{Serialize, Serializer};

use crate::amount::Amount;
use crate::event::RawJson;
use crate::json::scan::{by_view, Span, Text};
use crate::timestamp::Timestamp;

/// Where a user's fields are: the id (required in a joined campaign or an earning,
/// optional in a payment request), then the five optional ones.
#[derive(Clone, Copy, Debug)]
pub(super) struct UserSpans<Id> {
    pub(super) id: Id,
    pub(super) email: Option<Span>,
    pub(super) first_name: Option<Span>,
    pub(super) last_name: Option<Span>,
    pub(super) wallet_address: Option<Span>,
    pub(super) external_identifier: Option<Span>,
}

/// Where a `USER_JOINED_CAMPAIGN`'s fields are.
#[derive(Clone, Copy, Debug)]
pub(super) struct JoinedSpans {
    pub(super) user_id: Span,
    pub(super) user: UserSpans<Span>,
    pub(super) referrer: Option<Span>,
    pub(super) external_identifier: Option<Span>,
}

/// Where a `REFERRAL_CONVERSION`'s fields are.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConversionSpans {
    pub(super) claimer: Span,
    pub(super) referrer: Option<Span>,
    pub(super) external_identifier: Option<Span>,
}

/// Where an `EARNING_CREATED`'s fields are; the amount's text is a checked decimal.
#[derive(Clone, Copy, Debug)]
pub(super) struct EarningSpans {
    pub(super) user_id: Span,
    pub(super) date_created_utc: Span,
    pub(super) user: UserSpans<Span>,
    pub(super) reward: Span,
    pub(super) amount: Span,
}

/// Where a payment request's typed fields are, and its raw data and event name; the
/// amount's text is a checked decimal.
#[derive(Clone, Copy, Debug)]
pub(super) struct PaymentSpans {
    pub(super) id: Option<Span>,
    pub(super) user_id: Option<Span>,
    pub(super) user: Option<UserSpans<Option<Span>>>,
    pub(super) reward: Option<Span>,
    pub(super) amount: Option<Span>,
    pub(super) currency: Option<Span>,
    pub(super) wallet_address: Option<Span>,
    pub(super) raw: Span,
    pub(super) event_name: Span,
}

/// Where an unknown event's name and data are.
#[derive(Clone, Copy, Debug)]
pub(super) struct UnknownSpans {
    pub(super) name: Span,
    pub(super) data: Option<Span>,
}

fn text(text: &Text, span: Option<Span>) -> Option<&str> {
    span.map(|span| text.get(span))
}

/// The data of `USER_JOINED_CAMPAIGN`: a user joined a referral program.
///
/// Read it through the accessors; they share the delivery's body. Two are equal when
/// every field is; `Debug` and `Serialize` show the fields.
#[derive(Clone)]
pub struct UserJoinedCampaign {
    pub(super) text: Text,
    pub(super) spans: JoinedSpans,
}

impl UserJoinedCampaign {
    /// The ChainVine ID of the user who joined.
    #[must_use]
    pub fn user_id(&self) -> &str {
        self.text.get(self.spans.user_id)
    }

    /// The user who joined.
    #[must_use]
    pub fn user(&self) -> JoinedUser<'_> {
        JoinedUser {
            text: &self.text,
            spans: &self.spans.user,
        }
    }

    /// Who referred the user, if anyone.
    #[must_use]
    pub fn referrer(&self) -> Option<&str> {
        text(&self.text, self.spans.referrer)
    }

    /// Your own identifier for the join, if you gave one.
    #[must_use]
    pub fn external_identifier(&self) -> Option<&str> {
        text(&self.text, self.spans.external_identifier)
    }

    fn view(&self) -> view::UserJoinedCampaign<'_> {
        view::UserJoinedCampaign {
            user_id: self.user_id(),
            user: self.user().view(),
            referrer: self.referrer(),
            external_identifier: self.external_identifier(),
        }
    }
}

/// The five optional fields every ChainVine user has, under the spellings given in
/// each accessor's doc.
macro_rules! user_fields {
    ($email:literal, $first:literal, $last:literal, $wallet:literal, $external:literal) => {
        #[doc = concat!("The user's email address (`", $email, "`).")]
        #[must_use]
        pub fn email(&self) -> Option<&'a str> {
            text(self.text, self.spans.email)
        }

        #[doc = concat!("The user's first name (`", $first, "`).")]
        #[must_use]
        pub fn first_name(&self) -> Option<&'a str> {
            text(self.text, self.spans.first_name)
        }

        #[doc = concat!("The user's last name (`", $last, "`).")]
        #[must_use]
        pub fn last_name(&self) -> Option<&'a str> {
            text(self.text, self.spans.last_name)
        }

        #[doc = concat!("The user's wallet address (`", $wallet, "`).")]
        #[must_use]
        pub fn wallet_address(&self) -> Option<&'a str> {
            text(self.text, self.spans.wallet_address)
        }

        #[doc = concat!("Your own identifier for the user (`", $external, "`).")]
        #[must_use]
        pub fn external_identifier(&self) -> Option<&'a str> {
            text(self.text, self.spans.external_identifier)
        }
    };
}

/// The user in a `USER_JOINED_CAMPAIGN` event (snake_case fields, as ChainVine sends
/// them), borrowed from its [`UserJoinedCampaign`].
#[derive(Clone, Copy)]
pub struct JoinedUser<'a> {
    text: &'a Text,
    spans: &'a UserSpans<Span>,
}

impl<'a> JoinedUser<'a> {
    /// The user's ChainVine ID.
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.text.get(self.spans.id)
    }

    user_fields!(
        "email",
        "first_name",
        "last_name",
        "wallet_address",
        "external_identifier"
    );

    fn view(&self) -> view::JoinedUser<'a> {
        view::JoinedUser {
            id: self.id(),
            email: self.email(),
            first_name: self.first_name(),
            last_name: self.last_name(),
            wallet_address: self.wallet_address(),
            external_identifier: self.external_identifier(),
        }
    }
}

/// The data of `REFERRAL_CONVERSION`: a referred user completed an action.
///
/// Read it through the accessors; they share the delivery's body.
#[derive(Clone)]
pub struct ReferralConversion {
    pub(super) text: Text,
    pub(super) spans: ConversionSpans,
}

impl ReferralConversion {
    /// The referred user who completed the action.
    #[must_use]
    pub fn claimer(&self) -> &str {
        self.text.get(self.spans.claimer)
    }

    /// Who referred them.
    #[must_use]
    pub fn referrer(&self) -> Option<&str> {
        text(&self.text, self.spans.referrer)
    }

    /// Your own identifier for the conversion, if you gave one.
    #[must_use]
    pub fn external_identifier(&self) -> Option<&str> {
        text(&self.text, self.spans.external_identifier)
    }

    fn view(&self) -> view::ReferralConversion<'_> {
        view::ReferralConversion {
            claimer: self.claimer(),
            referrer: self.referrer(),
            external_identifier: self.external_identifier(),
        }
    }
}

/// The data of `EARNING_CREATED`: a user was attributed a reward.
///
/// ChainVine sends these fields in camelCase (`userId`, `dateCreatedUtc`); `user_id` is
/// accepted too, as the page's schema table spells it that way. Read them through the
/// accessors; they share the delivery's body.
#[derive(Clone)]
pub struct EarningCreated {
    pub(super) text: Text,
    pub(super) spans: EarningSpans,
}

impl EarningCreated {
    /// The ChainVine ID of the user who earned the reward.
    #[must_use]
    pub fn user_id(&self) -> &str {
        self.text.get(self.spans.user_id)
    }

    /// When the earning was created (UTC).
    ///
    /// Each call gives a new [`Timestamp`] over the same bytes; it parses its time when
    /// first asked, so keep the one you read more than once.
    #[must_use]
    pub fn date_created_utc(&self) -> Timestamp {
        Timestamp::from_shared(self.text.shared(self.spans.date_created_utc))
    }

    /// The user who earned the reward.
    #[must_use]
    pub fn user(&self) -> EarningUser<'_> {
        EarningUser {
            text: &self.text,
            spans: &self.spans.user,
        }
    }

    /// Which reward was earned.
    #[must_use]
    pub fn reward(&self) -> Reward<'_> {
        Reward {
            name: self.text.get(self.spans.reward),
        }
    }

    /// How much of the reward: 18 decimal places in the unit currency (ETH, not gwei) for
    /// crypto currencies, 4 for other rewards (`"15.000"` points, `"1.000"` NFT).
    #[must_use]
    pub fn amount(&self) -> Amount {
        Amount::from_checked(self.text.shared(self.spans.amount))
    }

    fn view(&self) -> view::EarningCreated<'_> {
        view::EarningCreated {
            user_id: self.user_id(),
            date_created_utc: self.date_created_utc(),
            user: self.user().view(),
            reward: self.reward(),
            amount: self.amount(),
        }
    }
}

/// The user in an `EARNING_CREATED` event (camelCase fields, as ChainVine sends them),
/// borrowed from its [`EarningCreated`].
#[derive(Clone, Copy)]
pub struct EarningUser<'a> {
    text: &'a Text,
    spans: &'a UserSpans<Span>,
}

impl<'a> EarningUser<'a> {
    /// The user's ChainVine ID.
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.text.get(self.spans.id)
    }

    user_fields!(
        "email",
        "firstName",
        "lastName",
        "walletAddress",
        "externalIdentifier"
    );

    fn view(&self) -> view::EarningUser<'a> {
        view::EarningUser {
            id: self.id(),
            email: self.email(),
            first_name: self.first_name(),
            last_name: self.last_name(),
            wallet_address: self.wallet_address(),
            external_identifier: self.external_identifier(),
        }
    }
}

/// A reward, by name (`"ETH"`, `"Points"`, an NFT collection…), borrowed from its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reward<'a> {
    name: &'a str,
}

impl<'a> Reward<'a> {
    /// The name of the reward issued.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.name
    }
}

/// A payout ChainVine asks your system to make.
///
/// ChainVine documents this event but not its fields, so every typed field is a guess
/// and optional: a field is `None` when it is absent, `null`, or not of the expected
/// shape (an `amount` sent as a JSON number, for instance — its exact text is still in
/// [`raw`](Self::raw)). Fields the crate does not know are only in `raw`. A handler that
/// pays out must check that what it needs is there, and should read `raw` when it is not.
///
/// Read the fields through the accessors; they share the delivery's body. Serializes as
/// [`raw`](Self::raw), unchanged.
#[derive(Clone)]
pub struct PaymentRequest {
    pub(super) text: Text,
    pub(super) spans: PaymentSpans,
}

impl PaymentRequest {
    /// The payout's identifier: the first of `payment_request_id`, `paymentRequestId`,
    /// `payout_id`, `payoutId`, `id` that is a non-blank string (trimmed) or an integer
    /// (its digits, however large). `None` when none is, or when one of them is present
    /// but of another shape (a float, a boolean, an object): the payout key refuses such
    /// a request rather than guess.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        text(&self.text, self.spans.id)
    }

    /// The ChainVine ID of the user to pay: the first of `user_id`, `userId` that is
    /// present and not `null`, as a string or an integer's digits; `None` when that one
    /// has another shape (the other spelling is not looked at: the payout's fingerprint
    /// does not look at it either).
    #[must_use]
    pub fn user_id(&self) -> Option<&str> {
        text(&self.text, self.spans.user_id)
    }

    /// The user to pay.
    #[must_use]
    pub fn user(&self) -> Option<PayoutUser<'_>> {
        self.spans.user.as_ref().map(|spans| PayoutUser {
            text: &self.text,
            spans,
        })
    }

    /// Which reward to pay out.
    #[must_use]
    pub fn reward(&self) -> Option<Reward<'_>> {
        text(&self.text, self.spans.reward).map(|name| Reward { name })
    }

    /// How much to pay, as an exact decimal.
    #[must_use]
    pub fn amount(&self) -> Option<Amount> {
        self.spans
            .amount
            .map(|span| Amount::from_checked(self.text.shared(span)))
    }

    /// The currency or token to pay in.
    #[must_use]
    pub fn currency(&self) -> Option<&str> {
        text(&self.text, self.spans.currency)
    }

    /// Where to pay: the first of `wallet_address`, `walletAddress` that is present and
    /// not `null`; `None` when that one is not a string (the other spelling is not looked
    /// at, as for [`user_id`](Self::user_id)). Pay here, not to the `user`'s profile
    /// wallet, which the fingerprint covers only when no top-level wallet is usable.
    #[must_use]
    pub fn wallet_address(&self) -> Option<&str> {
        text(&self.text, self.spans.wallet_address)
    }

    /// The event's `data` exactly as sent (`null` when there was no `data`); it shares the
    /// event's text, so a call costs a reference count, not a copy.
    #[must_use]
    pub fn raw(&self) -> RawJson {
        self.text.raw_json(self.spans.raw)
    }

    /// The event name this payout request arrived under (`PAYMENT_REQUEST` unless
    /// configured otherwise in [`EventNames`](super::EventNames)).
    #[must_use]
    pub fn event_name(&self) -> &str {
        self.text.get(self.spans.event_name)
    }

    /// The raw data's text, without building a [`RawJson`].
    pub(crate) fn raw_text(&self) -> &str {
        self.text.get(self.spans.raw)
    }

    fn view(&self) -> view::PaymentRequest<'_> {
        view::PaymentRequest {
            id: self.id(),
            user_id: self.user_id(),
            user: self.user().map(|user| user.view()),
            reward: self.reward(),
            amount: self.amount(),
            currency: self.currency(),
            wallet_address: self.wallet_address(),
            raw: self.raw(),
            event_name: self.event_name(),
        }
    }
}

/// The user in a payment request, borrowed from its [`PaymentRequest`]; both snake_case
/// and camelCase field names are accepted.
#[derive(Clone, Copy)]
pub struct PayoutUser<'a> {
    text: &'a Text,
    spans: &'a UserSpans<Option<Span>>,
}

impl<'a> PayoutUser<'a> {
    /// The user's ChainVine ID, as a string or an integer's digits.
    #[must_use]
    pub fn id(&self) -> Option<&'a str> {
        text(self.text, self.spans.id)
    }

    user_fields!(
        "email",
        "first_name` or `firstName",
        "last_name` or `lastName",
        "wallet_address` or `walletAddress",
        "external_identifier` or `externalIdentifier"
    );

    fn view(&self) -> view::PayoutUser<'a> {
        view::PayoutUser {
            id: self.id(),
            email: self.email(),
            first_name: self.first_name(),
            last_name: self.last_name(),
            wallet_address: self.wallet_address(),
            external_identifier: self.external_identifier(),
        }
    }
}

/// An event whose name this crate does not know, kept as sent.
#[derive(Clone)]
pub struct Unknown {
    pub(super) text: Text,
    pub(super) spans: UnknownSpans,
}

impl Unknown {
    /// The event's `name` as sent.
    #[must_use]
    pub fn name(&self) -> &str {
        self.text.get(self.spans.name)
    }

    /// The event's `data` exactly as sent, if there was a `data` field; it shares the
    /// event's text, so a call costs a reference count, not a copy.
    #[must_use]
    pub fn data(&self) -> Option<RawJson> {
        self.spans.data.map(|span| self.text.raw_json(span))
    }

    fn view(&self) -> view::Unknown<'_> {
        view::Unknown {
            name: self.name(),
            data: self.data(),
        }
    }
}

/// The data's fields as values: what `Debug`, `PartialEq` and `Serialize` are derived
/// on, so that they show values, not spans, and serialize as the fields were sent.
mod view {
    use serde::Serialize;

    use super::Reward;
    use crate::amount::Amount;
    use crate::event::RawJson;
    use crate::timestamp::Timestamp;

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct UserJoinedCampaign<'a> {
        pub(super) user_id: &'a str,
        pub(super) user: JoinedUser<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) referrer: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) external_identifier: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct JoinedUser<'a> {
        pub(super) id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) email: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) first_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) last_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) wallet_address: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) external_identifier: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct ReferralConversion<'a> {
        pub(super) claimer: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) referrer: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) external_identifier: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct EarningCreated<'a> {
        pub(super) user_id: &'a str,
        pub(super) date_created_utc: Timestamp,
        pub(super) user: EarningUser<'a>,
        pub(super) reward: Reward<'a>,
        pub(super) amount: Amount,
    }

    #[derive(Debug, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct EarningUser<'a> {
        pub(super) id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) email: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) first_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) last_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) wallet_address: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) external_identifier: Option<&'a str>,
    }

    /// Serialized by its owner as its raw data; `Serialize` here is for its user.
    #[derive(Debug, PartialEq)]
    pub(super) struct PaymentRequest<'a> {
        pub(super) id: Option<&'a str>,
        pub(super) user_id: Option<&'a str>,
        pub(super) user: Option<PayoutUser<'a>>,
        pub(super) reward: Option<Reward<'a>>,
        pub(super) amount: Option<Amount>,
        pub(super) currency: Option<&'a str>,
        pub(super) wallet_address: Option<&'a str>,
        pub(super) raw: RawJson,
        pub(super) event_name: &'a str,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct PayoutUser<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) email: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) first_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) last_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) wallet_address: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) external_identifier: Option<&'a str>,
    }

    #[derive(Debug, PartialEq, Serialize)]
    pub(super) struct Unknown<'a> {
        pub(super) name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub(super) data: Option<RawJson>,
    }
}

by_view!(
    [Debug, PartialEq, Eq, Serialize]
    UserJoinedCampaign,
    JoinedUser<'_>,
    ReferralConversion,
    EarningCreated,
    EarningUser<'_>,
    PayoutUser<'_>
);
by_view!([Debug, PartialEq, Serialize] Unknown);
// A payment request serializes as its raw data, not its view.
by_view!([Debug, PartialEq] PaymentRequest);

impl Serialize for PaymentRequest {
    /// Writes [`raw`](Self::raw) back, unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw().serialize(serializer)
    }
}
