//! What a MAC is computed over: the signed content template.

use std::fmt;
use std::str::FromStr;

use http::header::HeaderName;

use crate::error::ConfigError;

/// One piece of the content a MAC is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentPart {
    /// The exact raw request body, byte for byte (no UTF-8 requirement).
    Body,
    /// Fixed text, such as the `.` between two parts.
    Literal(String),
    /// The value of a request header, byte for byte; a delivery without it is refused.
    Header(HeaderName),
    /// The delivery's timestamp, exactly as sent, read where the scheme's
    /// [`TimestampSource`](super::TimestampSource) says.
    Timestamp,
}

/// What the MAC is computed over: [`ContentPart`]s one after the other.
///
/// Written as a template, `{body}`, `{timestamp}` and `{header:NAME}` stand for those
/// parts, `{{` and `}}` for braces, and any other text for itself:
///
/// | sender | template |
/// |---|---|
/// | claimr, ChainVine, GitHub | `{body}` |
/// | Stripe | `{timestamp}.{body}` |
/// | Standard Webhooks | `{header:webhook-id}.{timestamp}.{body}` |
///
/// ```
/// use hookguard::signature::{ContentPart, SignedContent};
///
/// let content: SignedContent = "{header:webhook-id}.{timestamp}.{body}".parse()?;
/// assert_eq!(content.parts()[1], ContentPart::Literal(".".into()));
/// assert_eq!(content.to_string(), "{header:webhook-id}.{timestamp}.{body}");
/// // The body must be signed, or any body could be sent under a valid signature.
/// assert!("{timestamp}".parse::<SignedContent>().is_err());
/// # Ok::<(), hookguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContent {
    pub(super) parts: Vec<ContentPart>,
}

impl Default for SignedContent {
    fn default() -> Self {
        Self::body()
    }
}

impl SignedContent {
    /// The bare body: `{body}`.
    pub fn body() -> Self {
        Self {
            parts: vec![ContentPart::Body],
        }
    }

    /// `parts`, concatenated.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSignedContent`] when no part is the body.
    pub fn from_parts(parts: impl IntoIterator<Item = ContentPart>) -> Result<Self, ConfigError> {
        let parts: Vec<ContentPart> = parts
            .into_iter()
            .filter(|part| !matches!(part, ContentPart::Literal(text) if text.is_empty()))
            .collect();
        if !parts.contains(&ContentPart::Body) {
            return Err(ConfigError::InvalidSignedContent(
                "the body must be part of the signed content".to_owned(),
            ));
        }
        Ok(Self { parts })
    }

    /// Reads a template such as `{timestamp}.{body}` (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSignedContent`] for an unknown placeholder, an unmatched
    /// brace or a template without `{body}`; [`ConfigError::InvalidHeaderName`] for a
    /// `{header:…}` that names no valid header.
    pub fn template(template: &str) -> Result<Self, ConfigError> {
        let invalid = |why: &str| ConfigError::InvalidSignedContent(format!("`{template}`: {why}"));
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if c == '{' {
                let end = rest
                    .find('}')
                    .ok_or_else(|| invalid("a `{` is never closed"))?;
                let part = match &rest[1..end] {
                    "body" => ContentPart::Body,
                    "timestamp" => ContentPart::Timestamp,
                    name => match name.strip_prefix("header:") {
                        Some(header) => ContentPart::Header(
                            HeaderName::try_from(header.trim())
                                .map_err(|_| ConfigError::InvalidHeaderName(header.to_owned()))?,
                        ),
                        None => {
                            return Err(invalid(
                                "placeholders are {body}, {timestamp} and {header:NAME}",
                            ))
                        }
                    },
                };
                if !literal.is_empty() {
                    parts.push(ContentPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &rest[end + 1..];
            } else if c == '}' {
                return Err(invalid("a `}` was never opened (write `}}` for a brace)"));
            } else {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            parts.push(ContentPart::Literal(literal));
        }
        Self::from_parts(parts).map_err(|_| invalid("`{body}` is missing"))
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[ContentPart] {
        &self.parts
    }

    /// Whether the timestamp is signed.
    pub fn uses_timestamp(&self) -> bool {
        self.parts.contains(&ContentPart::Timestamp)
    }
}

impl FromStr for SignedContent {
    type Err = ConfigError;

    /// Same as [`SignedContent::template`].
    fn from_str(template: &str) -> Result<Self, ConfigError> {
        Self::template(template)
    }
}

impl fmt::Display for SignedContent {
    /// Writes the template back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                ContentPart::Body => f.write_str("{body}")?,
                ContentPart::Timestamp => f.write_str("{timestamp}")?,
                ContentPart::Header(name) => write!(f, "{{header:{name}}}")?,
                ContentPart::Literal(text) => {
                    f.write_str(&text.replace('{', "{{").replace('}', "}}"))?;
                }
            }
        }
        Ok(())
    }
}
