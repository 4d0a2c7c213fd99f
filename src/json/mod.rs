//! The JSON helpers every provider's parser shares: one-pass parsing with the path of a
//! bad field, lenient readers for fields of unknown shape, and ids sent as strings or
//! numbers. [`scan`] is the parsers' fast path: a scanner that hands out slices of the
//! body.

pub(crate) mod scan;

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{ByteString, ParseError};
use crate::timestamp::Timestamp;

/// The body as text, checked as UTF-8 once: the typed parsers share its bytes.
///
/// # Errors
///
/// [`ParseError::Syntax`] when a byte is not UTF-8 (JSON text is UTF-8 throughout, RFC
/// 8259), with the same message as [`from_slice`].
pub(crate) fn text(body: bytes::Bytes) -> Result<ByteString, ParseError> {
    ByteString::try_from(body).map_err(not_utf8)
}

fn not_utf8(err: std::str::Utf8Error) -> ParseError {
    ParseError::Syntax {
        message: format!("invalid UTF-8 at byte {}", err.valid_up_to()),
    }
}

/// Parses `body` as `T` in one pass, reporting the path of a field of the wrong shape.
///
/// # Errors
///
/// [`ParseError::Syntax`] for malformed JSON (including trailing characters and bytes
/// that are not UTF-8 anywhere in the body), [`ParseError::Data`] for JSON of the wrong
/// shape.
pub(crate) fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    // serde_json checks UTF-8 only in the strings it keeps; JSON text is UTF-8 throughout
    // (RFC 8259), so a body with bad bytes in a field nobody reads is refused as well.
    let body = std::str::from_utf8(body).map_err(not_utf8)?;
    // The common case, a body of the right shape, is parsed without tracking the path:
    // tracking nearly doubles the instructions. Only a failed parse is run again with it, to
    // report the same error with the path of the offending field.
    if let Ok(value) = serde_json::from_str(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|err| ParseError::Syntax {
        message: err.to_string(),
    })?;
    Ok(value)
}

fn classify(err: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => ParseError::Data {
            path,
            message: inner.to_string(),
        },
        _ => ParseError::Syntax {
            message: inner.to_string(),
        },
    }
}

/// What an untyped JSON body conventionally says of itself (Standard Webhooks' `type`,
/// `timestamp`, `data`, and an `id`), read leniently: a field of another shape, or a body
/// that is not an object, reads as absent.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) kind: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) timestamp: Option<Timestamp>,
    pub(crate) data: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct HeadRepr {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    timestamp: Option<Timestamp>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// Any JSON value: `Some` when it has `T`'s shape, `None` otherwise.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

/// Keeps `body` as raw JSON and reads its [`Head`].
///
/// # Errors
///
/// [`ParseError::Syntax`] when the body is not JSON; never a data error.
pub(crate) fn raw_with_head(body: &[u8]) -> Result<(Box<RawValue>, Head), ParseError> {
    let raw: Box<RawValue> = from_slice(body)?;
    // A body that is not an object (serde would read an array's items as the fields in
    // order) or that repeats a field says nothing of itself.
    if !raw.get().starts_with('{') {
        return Ok((raw, Head::default()));
    }
    let head = serde_json::from_str::<HeadRepr>(raw.get())
        .map(|repr| Head {
            kind: repr.kind,
            id: repr.id,
            timestamp: repr.timestamp,
            data: repr.data,
        })
        .unwrap_or_default();
    Ok((raw, head))
}

/// Deserializes an id sent as a JSON string or integer into its text.
///
/// Floats are refused: a large id sent as a number may already have lost digits.
pub(crate) fn string_or_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    d.deserialize_any(IdVisitor).map(T::from)
}

/// [`string_or_number`] for optional fields: `null` is `None`.
pub(crate) fn opt_string_or_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(d.deserialize_option(OptionalIdVisitor)?.map(T::from))
}

/// Deserializes any JSON value: a string or an integer is an id, anything else `None`.
pub(crate) fn lenient_id<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(d.deserialize_any(LenientIdVisitor)?.map(T::from))
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id as a string or an integer")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct OptionalIdVisitor;

impl<'de> Visitor<'de> for OptionalIdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id as a string or an integer, or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        string_or_number::<D, String>(d).map(Some)
    }
}

struct LenientIdVisitor;

impl<'de> Visitor<'de> for LenientIdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn heads_are_read_leniently() {
        let (raw, head) = raw_with_head(
            br#"{"type":"invoice.paid","id":7,"timestamp":"2024-05-14T09:31:02Z","data":{"n":1}}"#,
        )
        .unwrap();
        assert!(raw.get().starts_with("{\"type\""));
        assert_eq!(head.kind.as_deref(), Some("invoice.paid"));
        assert_eq!(head.id.as_deref(), Some("7"));
        assert_eq!(
            head.timestamp
                .and_then(|t| t.to_offset_date_time())
                .map(|t| t.unix_timestamp()),
            Some(1_715_679_062)
        );
        assert_eq!(head.data.unwrap().get(), r#"{"n":1}"#);

        for body in [
            &br#"{"type":3,"id":[1],"timestamp":{},"data":null}"#[..],
            b"[1,2]",
            b"\"text\"",
            br#"{"type":"a","type":"b"}"#,
        ] {
            let (_, head) = raw_with_head(body).unwrap();
            assert!(
                head.kind.is_none() && head.id.is_none() && head.timestamp.is_none(),
                "{head:?} {}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            raw_with_head(b"{\"type\":"),
            Err(ParseError::Syntax { .. })
        ));
    }

    #[test]
    fn syntax_and_data_errors_are_told_apart() {
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":{\"n\":1}} x"),
            Err(ParseError::Syntax { .. })
        ));
        // Bad bytes in a string that no field reads are refused too.
        assert!(matches!(
            from_slice::<Outer>(b"{\"inner\":{\"n\":1},\"unread\":\"\xff\"}"),
            Err(ParseError::Syntax { .. })
        ));
        match from_slice::<Outer>(b"{\"inner\":{\"n\":\"one\"}}") {
            Err(ParseError::Data { path, .. }) => assert_eq!(path, "inner.n"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }
}
