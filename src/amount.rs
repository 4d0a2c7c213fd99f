//! Exact decimal amounts of money, kept as the text the provider sent.
//!
//! ChainVine sends reward amounts as JSON strings with up to 18 decimal places
//! (`"0.00398888889000003983"` ETH): an `f64` would silently round them. [`Amount`]
//! checks that the text is a plain decimal number and keeps it unchanged, so a handler
//! can hand it to the decimal type of its choice without losing a digit.
//!
//! ```
//! use hookguard::amount::Amount;
//!
//! let amount: Amount = serde_json::from_str(r#""0.00398888889000003983""#).unwrap();
//! assert_eq!(amount.integer_part(), "0");
//! assert_eq!(amount.fraction_part(), "00398888889000003983");
//!
//! // Numbers are refused: they may already have been rounded by the sender's JSON encoder.
//! assert!(serde_json::from_str::<Amount>("15.5").is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use bytestring::ByteString;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An exact decimal amount of money, such as `"15.000"` or `"-0.5"`, kept as its text.
///
/// The text matches `-?[0-9]+(\.[0-9]+)?`: an optional minus sign, at least one digit,
/// and optionally a point followed by at least one digit. No exponent, no `+`, no spaces,
/// no thousands separators.
///
/// Equality is textual: `"15.0"` and `"15.000"` are different `Amount`s, because the
/// number of decimal places the provider sent can carry meaning (4 for points, 18 for
/// crypto currencies on ChainVine). Convert to a decimal type to compare values.
///
/// It deserializes only from a JSON string and serializes back to the same string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Amount(ByteString);

/// Why a text is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid decimal amount: expected digits with an optional fraction, such as \"15.000\"")]
#[non_exhaustive]
pub struct InvalidAmount;

impl Amount {
    /// The amount's text, exactly as it was sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the decimal point, including a leading `-` if there is one
    /// (`"-0"` for `"-0.25"`).
    #[must_use]
    pub fn integer_part(&self) -> &str {
        match self.0.split_once('.') {
            Some((integer, _)) => integer,
            None => &self.0,
        }
    }

    /// The digits after the decimal point, with their trailing zeros (`"000"` for
    /// `"15.000"`); empty when there is no decimal point.
    #[must_use]
    pub fn fraction_part(&self) -> &str {
        match self.0.split_once('.') {
            Some((_, fraction)) => fraction,
            None => "",
        }
    }

    /// Whether the amount starts with a minus sign (`"-0.0"` counts as negative).
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }

    /// Gives back the amount's text.
    #[must_use]
    pub fn into_string(self) -> String {
        String::from(&*self.0)
    }

    /// The amount of `text`, sharing its bytes (the body's, in a parsed event): a text
    /// checked to be a decimal ([`is_decimal`]) when its event was read.
    pub(crate) fn from_checked(text: ByteString) -> Self {
        debug_assert!(is_decimal(&text));
        Self(text)
    }
}

/// Whether `text` matches `-?[0-9]+(\.[0-9]+)?`.
pub(crate) fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(integer) && fraction.map_or(true, all_digits)
}

impl FromStr for Amount {
    type Err = InvalidAmount;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if is_decimal(text) {
            Ok(Self(ByteString::from(text)))
        } else {
            Err(InvalidAmount)
        }
    }
}

impl TryFrom<String> for Amount {
    type Error = InvalidAmount;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if is_decimal(&text) {
            Ok(Self(ByteString::from(text)))
        } else {
            Err(InvalidAmount)
        }
    }
}

impl TryFrom<&str> for Amount {
    type Error = InvalidAmount;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Amount> for String {
    fn from(amount: Amount) -> Self {
        amount.into_string()
    }
}

impl AsRef<str> for Amount {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(AmountVisitor)
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal amount as a JSON string, such as \"15.000\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Amount, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Amount, E> {
        Amount::try_from(text).map_err(E::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_decimals_and_keeps_them_verbatim() {
        for text in [
            "0",
            "15",
            "15.000",
            "-0.5",
            "0.00398888889000003983",
            "007.10",
            "123456789012345678901234567890.123456789012345678901234567890",
        ] {
            let amount: Amount = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(amount.as_str(), text);
            assert_eq!(amount.to_string(), text);
        }
    }

    #[test]
    fn rejects_anything_else() {
        for text in [
            "", "-", ".", "1.", ".5", "-.5", "+1", "1e3", "1.5e-3", " 1", "1 ", "1,000", "1.2.3",
            "--1", "NaN", "inf", "0x10", "１",
        ] {
            assert_eq!(text.parse::<Amount>(), Err(InvalidAmount), "{text:?}");
            assert_eq!(Amount::try_from(text.to_owned()), Err(InvalidAmount));
        }
    }

    #[test]
    fn splits_into_integer_and_fraction() {
        let amount: Amount = "15.000".parse().unwrap();
        assert_eq!(
            (amount.integer_part(), amount.fraction_part()),
            ("15", "000")
        );
        let amount: Amount = "-0.25".parse().unwrap();
        assert_eq!(
            (amount.integer_part(), amount.fraction_part()),
            ("-0", "25")
        );
        assert!(amount.is_negative());
        let amount: Amount = "42".parse().unwrap();
        assert_eq!((amount.integer_part(), amount.fraction_part()), ("42", ""));
        assert!(!amount.is_negative());
    }

    #[test]
    fn serde_round_trips_as_a_string() {
        let amount: Amount = serde_json::from_str(r#""0.00398888889000003983""#).unwrap();
        assert_eq!(amount.as_str(), "0.00398888889000003983");
        assert_eq!(
            serde_json::to_string(&amount).unwrap(),
            r#""0.00398888889000003983""#
        );
        // Escaped text goes through `visit_string`.
        let amount: Amount = serde_json::from_str(r#""\u0031.5""#).unwrap();
        assert_eq!(amount.as_str(), "1.5");
    }

    #[test]
    fn numbers_and_bad_strings_are_data_errors() {
        for json in [
            "15.5", "15", "null", "true", "[]", "{}", r#""abc""#, r#""1e3""#,
        ] {
            let err = serde_json::from_str::<Amount>(json).unwrap_err();
            assert!(err.is_data(), "{json}: {err}");
        }
        let err = serde_json::from_str::<Amount>(r#""1,5""#).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid decimal amount"),
            "{err}"
        );
        let err = serde_json::from_str::<Amount>("15.5").unwrap_err();
        assert!(
            err.to_string().contains("decimal amount as a JSON string"),
            "{err}"
        );
    }

    #[test]
    fn equality_is_textual() {
        let a: Amount = "15.0".parse().unwrap();
        let b: Amount = "15.000".parse().unwrap();
        assert_ne!(a, b);
    }
}
