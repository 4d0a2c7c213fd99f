//! Timestamps that never make a delivery fail.
//!
//! Neither claimr nor ChainVine documents the format of its timestamps (ChainVine's
//! `sent_at`, `created_on` and `dateCreatedUtc` are typed only as `string`). A webhook
//! that is refused because of an unexpected date format is retried, or lost, for nothing,
//! so a [`Timestamp`] keeps the text as sent and parses it on a best-effort basis:
//!
//! - RFC 3339: `2024-05-14T09:31:02.123Z`, `2024-05-14T11:31:02+02:00`, `2024-05-14 09:31:02Z`;
//! - other ISO 8601 forms with an offset: `2024-05-14T09:31:02+0200`, `2024-05-14T09:31Z`;
//! - ISO 8601 without an offset, read as UTC: `2024-05-14T09:31:02.123`, `2024-05-14 09:31:02`,
//!   and a bare date `2024-05-14` (midnight UTC);
//! - unix time in seconds, as a string of digits (`"1715679062"`, optionally with a fraction
//!   `"1715679062.123"`) or as a JSON number.
//!
//! Anything else is kept with no parsed value: [`Timestamp::to_offset_date_time`] returns
//! `None`, and [`Timestamp::as_str`] still gives the text.
//!
//! ```
//! use hookguard::timestamp::Timestamp;
//!
//! let sent_at: Timestamp = serde_json::from_str(r#""2024-05-14T09:31:02.123Z""#).unwrap();
//! let parsed = sent_at.to_offset_date_time().expect("RFC 3339 is understood");
//! assert_eq!(parsed.unix_timestamp(), 1_715_679_062);
//! assert_eq!(parsed.millisecond(), 123);
//!
//! // An unknown format is kept, not refused.
//! let odd: Timestamp = serde_json::from_str(r#""14/05/2024 09:31""#).unwrap();
//! assert_eq!(odd.as_str(), "14/05/2024 09:31");
//! assert!(odd.to_offset_date_time().is_none());
//! ```

use std::fmt;
use std::sync::OnceLock;

use bytestring::ByteString;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime};

/// A point in time as a provider sent it: the raw text, and its parsed value when the
/// format is one this crate recognizes (see the [module docs](self)).
///
/// Deserializes from a JSON string (or a JSON number, read as unix seconds) and never
/// fails on the format; serializes back as the raw text. Equality and hashing look at the
/// raw text only: `"2024-05-14T09:31:02Z"` and `"2024-05-14T11:31:02+02:00"` are the same
/// instant but different timestamps (compare [`to_offset_date_time`](Self::to_offset_date_time)
/// for instants).
#[derive(Clone)]
pub struct Timestamp {
    raw: ByteString,
    /// Parsed when first asked for: most handlers never read most timestamps, and a
    /// parse costs as much as reading the rest of a small event.
    parsed: OnceLock<Option<OffsetDateTime>>,
}

impl Timestamp {
    /// Keeps `raw`, to be parsed if its format is recognized; never fails.
    #[must_use]
    pub fn new(raw: impl Into<String>) -> Self {
        Self::from_shared(ByteString::from(raw.into()))
    }

    /// Keeps `raw`, sharing its bytes (the body's, in a parsed event); it is parsed when
    /// first read.
    pub(crate) fn from_shared(raw: ByteString) -> Self {
        Self {
            raw,
            parsed: OnceLock::new(),
        }
    }

    /// The timestamp's text, exactly as it was sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed point in time, or `None` when the text was in no recognized format.
    ///
    /// Texts without an offset are taken as UTC.
    #[must_use]
    pub fn to_offset_date_time(&self) -> Option<OffsetDateTime> {
        *self.parsed.get_or_init(|| parse(&self.raw))
    }

    /// Gives back the timestamp's text.
    #[must_use]
    pub fn into_string(self) -> String {
        String::from(&*self.raw)
    }
}

/// Best-effort parse of the formats listed in the module docs.
fn parse(raw: &str) -> Option<OffsetDateTime> {
    let text = raw.trim();
    if let Some(unix) = parse_unix_seconds(text) {
        return Some(unix);
    }
    // RFC 3339 accepts any date/time separator; ISO 8601 wants a `T`.
    if let Ok(parsed) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(parsed);
    }
    let iso: std::borrow::Cow<'_, str> = match text.as_bytes().get(10) {
        Some(b' ') | Some(b't') => format!("{}T{}", &text[..10], &text[11..]).into(),
        _ => text.into(),
    };
    if let Ok(parsed) = OffsetDateTime::parse(&iso, &Iso8601::DEFAULT) {
        return Some(parsed);
    }
    if let Ok(parsed) = PrimitiveDateTime::parse(&iso, &Iso8601::DEFAULT) {
        return Some(parsed.assume_utc());
    }
    if let Ok(date) = Date::parse(&iso, &Iso8601::DEFAULT) {
        return Some(date.midnight().assume_utc());
    }
    None
}

/// Parses `-?[0-9]+(\.[0-9]+)?` as seconds since the unix epoch.
fn parse_unix_seconds(text: &str) -> Option<OffsetDateTime> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (unsigned, ""),
    };
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    if unsigned.ends_with('.') {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    // Nanoseconds from the first nine fraction digits; further digits are below time's precision.
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let magnitude = Duration::seconds(seconds).checked_add(Duration::nanoseconds(nanos))?;
    let offset = if negative { -magnitude } else { magnitude };
    OffsetDateTime::UNIX_EPOCH.checked_add(offset)
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Timestamp {}

impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl From<OffsetDateTime> for Timestamp {
    /// Formats the time as RFC 3339 (its `Display` form if RFC 3339 cannot express it,
    /// e.g. a year before 0 or after 9999).
    fn from(time: OffsetDateTime) -> Self {
        let raw = time.format(&Rfc3339).unwrap_or_else(|_| time.to_string());
        Self {
            raw: ByteString::from(raw),
            parsed: OnceLock::from(Some(time)),
        }
    }
}

impl fmt::Debug for Timestamp {
    /// The text and its parsed value (parsing it if it was not yet), whether or not it
    /// was read before.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timestamp")
            .field("raw", &self.raw)
            .field("parsed", &self.to_offset_date_time())
            .finish()
    }
}

impl From<String> for Timestamp {
    fn from(raw: String) -> Self {
        Self::new(raw)
    }
}

impl From<&str> for Timestamp {
    fn from(raw: &str) -> Self {
        Self::new(raw)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp as a string or a number of unix seconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Ok(Timestamp::new(text))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Timestamp, E> {
        Ok(Timestamp::new(text))
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Timestamp, E> {
        Ok(Timestamp::new(seconds.to_string()))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Timestamp, E> {
        Ok(Timestamp::new(seconds.to_string()))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Timestamp, E> {
        Ok(Timestamp::new(seconds.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::{Month, UtcOffset};

    fn utc(y: i32, mo: Month, d: u8, h: u8, mi: u8, s: u8, ms: u16) -> OffsetDateTime {
        Date::from_calendar_date(y, mo, d)
            .unwrap()
            .with_hms_milli(h, mi, s, ms)
            .unwrap()
            .assume_utc()
    }

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        let expected = utc(2024, Month::May, 14, 9, 31, 2, 123);
        for raw in [
            "2024-05-14T09:31:02.123Z",
            "2024-05-14T09:31:02.123z",
            "2024-05-14T11:31:02.123+02:00",
            "2024-05-14T04:31:02.123-05:00",
            "2024-05-14 09:31:02.123Z",
            "2024-05-14T09:31:02.123000000000Z",
        ] {
            let ts = Timestamp::new(raw);
            assert_eq!(ts.to_offset_date_time(), Some(expected), "{raw}");
            assert_eq!(ts.as_str(), raw);
        }
        let offset = Timestamp::new("2024-05-14T11:31:02+02:00")
            .to_offset_date_time()
            .unwrap();
        assert_eq!(offset.offset(), UtcOffset::from_hms(2, 0, 0).unwrap());
    }

    #[test]
    fn iso8601_without_offset_is_utc() {
        let expected = utc(2024, Month::May, 14, 9, 31, 2, 123);
        for raw in [
            "2024-05-14T09:31:02.123",
            "2024-05-14 09:31:02.123",
            "2024-05-14t09:31:02.123",
        ] {
            assert_eq!(
                Timestamp::new(raw).to_offset_date_time(),
                Some(expected),
                "{raw}"
            );
        }
        assert_eq!(
            Timestamp::new("2024-05-14T09:31:02").to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 2, 0))
        );
        assert_eq!(
            Timestamp::new("2024-05-14").to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 0, 0, 0, 0))
        );
    }

    #[test]
    fn other_iso8601_offsets() {
        assert_eq!(
            Timestamp::new("2024-05-14T11:31:02+0200").to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 2, 0))
        );
        assert_eq!(
            Timestamp::new("2024-05-14T09:31Z").to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 0, 0))
        );
    }

    #[test]
    fn unix_seconds() {
        let ts = Timestamp::new("1715679062");
        assert_eq!(
            ts.to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 2, 0))
        );
        assert_eq!(
            Timestamp::new("1715679062.123").to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 2, 123))
        );
        assert_eq!(
            Timestamp::new("-1").to_offset_date_time(),
            Some(utc(1969, Month::December, 31, 23, 59, 59, 0))
        );
    }

    #[test]
    fn unknown_formats_are_kept_unparsed() {
        for raw in [
            "",
            "yesterday",
            "14/05/2024",
            "Tue, 14 May 2024 09:31:02 GMT",
            "2024-13-14T09:31:02Z",
            "1.",
            ".5",
            "99999999999999999999999",
            "1715679062000000000",
        ] {
            let ts = Timestamp::new(raw);
            assert_eq!(ts.to_offset_date_time(), None, "{raw}");
            assert_eq!(ts.to_string(), raw);
        }
    }

    #[test]
    fn deserializes_strings_and_numbers_and_serializes_raw() {
        let ts: Timestamp = serde_json::from_str(r#""2024-05-14T09:31:02.123Z""#).unwrap();
        assert_eq!(
            serde_json::to_string(&ts).unwrap(),
            r#""2024-05-14T09:31:02.123Z""#
        );

        let ts: Timestamp = serde_json::from_str("1715679062").unwrap();
        assert_eq!(ts.as_str(), "1715679062");
        assert_eq!(
            ts.to_offset_date_time(),
            Some(utc(2024, Month::May, 14, 9, 31, 2, 0))
        );
        assert_eq!(serde_json::to_string(&ts).unwrap(), r#""1715679062""#);

        let ts: Timestamp = serde_json::from_str("1715679062.5").unwrap();
        assert_eq!(ts.to_offset_date_time().map(|t| t.millisecond()), Some(500));

        let ts: Timestamp = serde_json::from_str(r#""not a date""#).unwrap();
        assert_eq!(ts.to_offset_date_time(), None);

        for json in ["null", "true", "[]", "{}"] {
            assert!(serde_json::from_str::<Timestamp>(json)
                .unwrap_err()
                .is_data());
        }
    }

    #[test]
    fn from_offset_date_time_formats_rfc3339() {
        let time = utc(2024, Month::May, 14, 9, 31, 2, 123);
        let ts = Timestamp::from(time);
        assert_eq!(ts.as_str(), "2024-05-14T09:31:02.123Z");
        assert_eq!(ts.to_offset_date_time(), Some(time));
        assert_eq!(ts, Timestamp::new("2024-05-14T09:31:02.123Z"));
    }

    #[test]
    fn equality_is_on_the_raw_text() {
        let a = Timestamp::new("2024-05-14T09:31:02Z");
        let b = Timestamp::new("2024-05-14T11:31:02+02:00");
        assert_ne!(a, b);
        assert_eq!(a.to_offset_date_time(), b.to_offset_date_time());
    }
}
