//! The `--provider` values and what each means: a scheme, a secret, an event parser.

use clap::ValueEnum;
use hookguard::testing::Signer;
use hookguard::{
    chainvine, claimr, standard, ConfigError, Secret, SecretSet, SignatureError, SignatureScheme,
    TimestampSource, Verifier, WebhookEvent,
};
use http::{HeaderMap, HeaderName};

/// A sender hookguard knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// claimr's default: hex HMAC-SHA256 of the body in `X-Claimr-Signature`.
    Claimr,
    /// ChainVine's default: hex HMAC-SHA256 of the body in `X-ChainVine-Signature`.
    Chainvine,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    Github,
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>`.
    Stripe,
}

impl ProviderArg {
    pub const ALL: [ProviderArg; 5] = [
        ProviderArg::Claimr,
        ProviderArg::Chainvine,
        ProviderArg::Standard,
        ProviderArg::Github,
        ProviderArg::Stripe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProviderArg::Claimr => "claimr",
            ProviderArg::Chainvine => "chainvine",
            ProviderArg::Standard => "standard",
            ProviderArg::Github => "github",
            ProviderArg::Stripe => "stripe",
        }
    }

    pub fn scheme(self) -> SignatureScheme {
        match self {
            ProviderArg::Claimr => SignatureScheme::claimr(),
            ProviderArg::Chainvine => SignatureScheme::chainvine(),
            ProviderArg::Standard => SignatureScheme::standard(),
            ProviderArg::Github => SignatureScheme::github(),
            ProviderArg::Stripe => SignatureScheme::stripe(),
        }
    }

    /// The secret as this provider keys it: Standard Webhooks secrets are base64.
    pub fn secret(self, text: &str) -> Result<Secret, ConfigError> {
        match self {
            ProviderArg::Standard => Secret::from_standard(text),
            _ => Secret::new(text),
        }
    }

    pub fn signer(self, secret: &str) -> Result<Signer, ConfigError> {
        Ok(Signer::new(self.scheme(), self.secret(secret)?))
    }

    pub fn verifier(self, secret: &str) -> Result<Verifier, ConfigError> {
        Ok(Verifier::new(
            self.scheme(),
            SecretSet::new([self.secret(secret)?])?,
        ))
    }
}

/// The event's name and id, when the body parses as this provider's event.
pub fn describe(provider: &str, headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
    fn pair<E: WebhookEvent>(event: &E) -> (String, String) {
        (event.name().to_owned(), event.id().to_owned())
    }
    match provider {
        "claimr" => claimr::Event::from_slice(body).ok().map(|e| pair(&e)),
        "chainvine" => chainvine::Envelope::from_slice(body).ok().map(|e| pair(&e)),
        "standard" => {
            let id = headers
                .get("webhook-id")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            standard::Event::from_parts(id, body).ok().map(|e| pair(&e))
        }
        _ => {
            // GitHub names the event in a header; Stripe's body has `type` and `id`.
            let json: serde_json::Value = serde_json::from_slice(body).ok()?;
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let event = json["type"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| header("x-github-event"))
                .unwrap_or_default();
            let id = json["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| header("x-github-delivery"))
                .unwrap_or_default();
            Some((event, id))
        }
    }
}

/// Why a delivery was refused, in terms of what the scheme expected.
pub fn explain(error: SignatureError, scheme: &SignatureScheme, headers: &HeaderMap) -> String {
    let expected = scheme.header();
    match error {
        SignatureError::Missing => {
            let mut needed = vec![display_name(&expected)];
            if let Some(TimestampSource::Header(name)) = scheme.timestamp_source() {
                needed.push(display_name(name));
            }
            let given: Vec<String> = headers.keys().map(display_name).collect();
            format!(
                "expected header(s): {}; given: {}",
                needed.join(", "),
                if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join(", ")
                }
            )
        }
        SignatureError::Malformed => format!(
            "{} holds no {:?} signature of 32 bytes in the expected format",
            display_name(&expected),
            scheme.encoding()
        ),
        SignatureError::Mismatch => "the signature is well formed but the secret or the body \
             differs (try `hookguard verify --detect` to check the scheme)"
            .to_owned(),
        SignatureError::TimestampOutOfWindow => {
            "the signature is right but the timestamp is outside the tolerance window \
             (a replay, or a delivery captured some time ago)"
                .to_owned()
        }
        _ => error.to_string(),
    }
}

/// A header name as providers write it (`X-Claimr-Signature`), for people to read.
pub fn display_name(name: &HeaderName) -> String {
    name.as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
