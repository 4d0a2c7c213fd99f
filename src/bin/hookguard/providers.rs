//! The `--provider` values and what each means: a scheme, a secret, an event parser.

use clap::ValueEnum;
use hookguard::providers::Builtin;
use hookguard::secret::SigningKey;
use hookguard::signature::{TimestampSource, Verifier};
use hookguard::testing::Signer;
use hookguard::{ConfigError, SignatureError, SignatureScheme, Standard};
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

    /// The library's provider this value names: the CLI keeps no table of its own.
    pub fn builtin(self) -> Builtin {
        match self {
            ProviderArg::Claimr => Builtin::Claimr,
            ProviderArg::Chainvine => Builtin::ChainVine,
            ProviderArg::Standard => Builtin::Standard,
            ProviderArg::Github => Builtin::GitHub,
            ProviderArg::Stripe => Builtin::Stripe,
        }
    }

    pub fn name(self) -> &'static str {
        self.builtin().name()
    }

    pub fn scheme(self) -> SignatureScheme {
        self.builtin().scheme()
    }

    pub fn signer(self, secret: &str) -> Result<Signer, ConfigError> {
        self.builtin().signer(secret)
    }

    pub fn verifier(self, secret: &str) -> Result<Verifier, ConfigError> {
        self.builtin().verifier(secret)
    }

    /// A signer with `--secret` (`v1` and the like), `--signing-key` (Standard Webhooks'
    /// `v1a`), or both.
    pub fn signer_with(
        self,
        secret: Option<&str>,
        signing_key: Option<&str>,
    ) -> Result<Signer, String> {
        let Some(key) = signing_key else {
            let secret = secret.ok_or("--secret or --signing-key is needed")?;
            return self.signer(secret).map_err(|e| e.to_string());
        };
        if self != ProviderArg::Standard {
            // A key exported for Standard Webhooks must not break the other providers'
            // commands: with a secret to sign with, it is set aside, and said so.
            if let Some(secret) = secret {
                eprintln!(
                    "hookguard: {}; ignored",
                    ONLY_STANDARD.replace("{flag}", "--signing-key")
                );
                return self.signer(secret).map_err(|e| e.to_string());
            }
            return Err(ONLY_STANDARD.replace("{flag}", "--signing-key"));
        }
        match secret {
            None => Standard::asymmetric_signer(key).map_err(|e| e.to_string()),
            Some(secret) => {
                let key = SigningKey::from_standard(key).map_err(|e| e.to_string())?;
                Standard::signer(secret)
                    .and_then(|signer| signer.with_signing_key(key))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// A verifier with `--secret`, `--public-key`s (Standard Webhooks' `v1a`), or both.
    pub fn verifier_with(
        self,
        secret: Option<&str>,
        public_keys: &[String],
    ) -> Result<Verifier, String> {
        if public_keys.is_empty() {
            let secret = secret.ok_or("--secret or --public-key is needed")?;
            return self.verifier(secret).map_err(|e| e.to_string());
        }
        if self != ProviderArg::Standard {
            if let Some(secret) = secret {
                eprintln!(
                    "hookguard: {}; ignored",
                    ONLY_STANDARD.replace("{flag}", "--public-key")
                );
                return self.verifier(secret).map_err(|e| e.to_string());
            }
            return Err(ONLY_STANDARD.replace("{flag}", "--public-key"));
        }
        let standard = match secret {
            None => Standard::from_public_keys(public_keys),
            Some(secret) => Standard::new(secret).and_then(|s| s.with_public_keys(public_keys)),
        };
        standard
            .map(|standard| standard.verifier().clone())
            .map_err(|e| e.to_string())
    }
}

const ONLY_STANDARD: &str =
    "{flag} is for Standard Webhooks' asymmetric (v1a) signatures: use --provider standard";

/// The event's name and id, when the body parses as this provider's event.
pub fn describe(provider: &str, headers: &HeaderMap, body: &[u8]) -> Option<(String, String)> {
    Builtin::from_name(provider)?.describe(headers, body)
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
