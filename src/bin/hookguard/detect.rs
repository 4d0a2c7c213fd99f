//! `verify --detect`: every scheme hookguard knows, tried against a captured delivery.

use std::process::ExitCode;

use hookguard::secret::{PublicKey, SecretSet};
use hookguard::signature::{
    ContentPart, Encoding, SignatureFormat, SignedContent, TimestampSource, Verifier,
};
use hookguard::{Provider, Secret, SignatureScheme, Standard};
use http::{HeaderMap, HeaderName};

use crate::providers::{display_name, ProviderArg};
use crate::style::Style;

/// Headers that never carry a signature.
const NOT_SIGNATURES: [&str; 9] = [
    "host",
    "content-type",
    "content-length",
    "user-agent",
    "accept",
    "accept-encoding",
    "connection",
    "date",
    "traceparent",
];

/// How the secret was turned into key bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SecretForm {
    Utf8,
    /// `whsec_` stripped and base64-decoded (Standard Webhooks).
    Standard,
    /// Base64-decoded as it is.
    Base64,
}

impl SecretForm {
    fn label(self) -> &'static str {
        match self {
            SecretForm::Utf8 => "utf8",
            SecretForm::Standard => "whsec-base64",
            SecretForm::Base64 => "base64",
        }
    }

    fn rust(self) -> &'static str {
        match self {
            SecretForm::Utf8 => "Secret::new(secret)?",
            SecretForm::Standard => "Secret::from_standard(secret)?",
            SecretForm::Base64 => "Secret::from_base64(secret)?",
        }
    }
}

/// One scheme that verified the delivery.
struct Match {
    scheme: SignatureScheme,
    secret: SecretForm,
}

fn secret_forms(text: &str) -> Vec<(SecretForm, Secret)> {
    let mut forms = Vec::new();
    if let Ok(secret) = Secret::new(text) {
        forms.push((SecretForm::Utf8, secret));
    }
    if text.starts_with(hookguard::secret::WHSEC_PREFIX) {
        if let Ok(secret) = Secret::from_standard(text) {
            forms.push((SecretForm::Standard, secret));
        }
    } else if text.len() >= 16 {
        if let Ok(secret) = Secret::from_base64(text) {
            forms.push((SecretForm::Base64, secret));
        }
    }
    forms
}

/// The most headers of each sort tried. Every timestamp header and every `-id` header
/// adds signed contents to try, and every header that may hold the signature tries them
/// all: unbounded, a delivery with a hundred numeric and `-id` headers would cost
/// hundreds of thousands of HMACs over its body, and stall the inspector that shows it.
/// Real senders use one or two of each.
const MOST_SIGNATURE_HEADERS: usize = 16;
const MOST_TIMESTAMP_HEADERS: usize = 4;
const MOST_ID_HEADERS: usize = 4;

/// What the names of signature headers say: `x-hub-signature-256`, `svix-signature`,
/// `x-shopify-hmac-sha256`.
const SIGNATURE_HINTS: [&str; 2] = ["sig", "hmac"];

/// The shortest header value that can hold an HMAC-SHA256 tag: 32 bytes are 43
/// characters of unpadded base64 (64 of hex). A shorter value cannot verify under any
/// scheme, so it is not tried.
const SHORTEST_TAG: usize = 43;

/// The headers tried, at most [`MOST_SIGNATURE_HEADERS`] and so on: those whose names
/// say what they hold first, then in the delivery's order; and a remark for each sort
/// that had more.
struct Tried {
    /// Headers that may hold the signature, each once, with the formats its values
    /// suggest (a header sent several times is read whole by the verifier, so one set
    /// of schemes serves all its values).
    signatures: Vec<(HeaderName, Vec<SignatureFormat>)>,
    /// Header values of 9 to 11 digits: unix seconds.
    timestamps: Vec<HeaderName>,
    /// Headers that name a message: `…-id`.
    ids: Vec<HeaderName>,
    /// What was left out, as the report says it.
    left_out: Vec<String>,
}

impl Tried {
    fn of(headers: &HeaderMap) -> Tried {
        let mut left_out = Vec::new();
        let mut bounded = |found: Vec<HeaderName>, most: usize, what: &str| {
            if found.len() > most {
                left_out.push(format!(
                    "{} headers look like {what}; only the first {most} were tried",
                    found.len()
                ));
            }
            found.into_iter().take(most).collect::<Vec<_>>()
        };
        let names: Vec<HeaderName> = headers.keys().cloned().collect();
        // The values of `name` that could hold a tag: long enough, and visible ASCII.
        let long_values = |name: &HeaderName| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .filter(|value| value.len() >= SHORTEST_TAG)
                .collect::<Vec<_>>()
        };
        let may_sign = |name: &HeaderName| {
            !NOT_SIGNATURES.contains(&name.as_str()) && !long_values(name).is_empty()
        };
        // Names that say what they hold come first (a stable sort keeps the order
        // otherwise), so that a delivery with many long header values (tokens, cookies)
        // still has its signature tried.
        let named_first = |mut found: Vec<HeaderName>, hints: &[&str]| {
            // A name's values come together: one entry per name.
            found.dedup();
            found.sort_by_key(|name| !hints.iter().any(|hint| name.as_str().contains(hint)));
            found
        };
        let signature_names = bounded(
            named_first(
                names
                    .iter()
                    .filter(|name| may_sign(name))
                    .cloned()
                    .collect(),
                &SIGNATURE_HINTS,
            ),
            MOST_SIGNATURE_HEADERS,
            "a signature",
        );
        let timestamps = bounded(
            named_first(
                headers
                    .iter()
                    .filter(|(_, value)| {
                        let bytes = value.as_bytes();
                        (9..=11).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_digit)
                    })
                    .map(|(name, _)| name.clone())
                    .collect(),
                &["time"],
            ),
            MOST_TIMESTAMP_HEADERS,
            "a timestamp",
        );
        // An id of the signature's sender first: `svix-id` beside `svix-signature`.
        let mut ids: Vec<HeaderName> = names
            .iter()
            .filter(|name| name.as_str().ends_with("-id"))
            .cloned()
            .collect();
        ids.sort_by_key(|id| {
            let vendor = id.as_str().strip_suffix("id").unwrap_or(id.as_str());
            !signature_names.iter().any(|name| {
                SIGNATURE_HINTS
                    .iter()
                    .any(|hint| name.as_str().contains(hint))
                    && name.as_str().starts_with(vendor)
            })
        });
        let ids = bounded(ids, MOST_ID_HEADERS, "a message id");
        let signatures = signature_names
            .into_iter()
            .map(|name| {
                let mut formats: Vec<SignatureFormat> = Vec::new();
                for format in long_values(&name).into_iter().flat_map(formats_of) {
                    if !formats.contains(&format) {
                        formats.push(format);
                    }
                }
                (name, formats)
            })
            .collect();
        Tried {
            signatures,
            timestamps,
            ids,
            left_out,
        }
    }

    /// How many headers were tried for the signature.
    fn signature_headers(&self) -> usize {
        self.signatures.len()
    }
}

/// The formats worth trying on this header value.
fn formats_of(value: &str) -> Vec<SignatureFormat> {
    // A value with a marker is read by the marker's format; a plain list would also
    // read the signature after `v1,` and report the same scheme twice.
    let mut formats = Vec::new();
    if value.contains("sha256=") {
        formats.push(SignatureFormat::List {
            prefix: Some("sha256=".to_owned()),
        });
    }
    if value.contains("v1,") {
        formats.push(SignatureFormat::versioned("v1"));
    }
    if value.contains("v1=") {
        formats.push(SignatureFormat::key_value("v1"));
    }
    if formats.is_empty() {
        formats.push(SignatureFormat::List { prefix: None });
    }
    formats
}

/// The signed contents and timestamp sources worth trying.
fn contents(
    tried: &Tried,
    format: &SignatureFormat,
) -> Vec<(SignedContent, Option<TimestampSource>)> {
    let dot = || ContentPart::Literal(".".to_owned());
    let mut out = vec![(SignedContent::body(), None)];
    let mut sources: Vec<TimestampSource> = tried
        .timestamps
        .iter()
        .cloned()
        .map(TimestampSource::Header)
        .collect();
    if matches!(format, SignatureFormat::KeyValue { .. }) {
        sources.push(TimestampSource::SignatureKey("t".to_owned()));
    }
    for source in sources {
        let parts = [ContentPart::Timestamp, dot(), ContentPart::Body];
        if let Ok(content) = SignedContent::from_parts(parts) {
            out.push((content, Some(source.clone())));
        }
        for id in &tried.ids {
            let parts = [
                ContentPart::Header(id.clone()),
                dot(),
                ContentPart::Timestamp,
                dot(),
                ContentPart::Body,
            ];
            if let Ok(content) = SignedContent::from_parts(parts) {
                out.push((content, Some(source.clone())));
            }
        }
    }
    out
}

fn candidates(tried: &Tried) -> Vec<SignatureScheme> {
    let mut schemes = Vec::new();
    for (name, formats) in &tried.signatures {
        let Ok(named) = SignatureScheme::new(name.as_str()) else {
            continue;
        };
        for format in formats {
            // The same for either encoding: worked out once per format.
            let contents = contents(tried, format);
            for encoding in [Encoding::Hex, Encoding::Base64] {
                for (content, timestamp) in contents.iter().cloned() {
                    let mut scheme = named
                        .clone()
                        .with_encoding(encoding)
                        .with_format(format.clone())
                        .with_signed_content(content)
                        .without_tolerance();
                    if let Some(source) = timestamp {
                        scheme = scheme.with_timestamp(source);
                    }
                    if scheme.validate().is_ok() {
                        schemes.push(scheme);
                    }
                }
            }
        }
    }
    schemes
}

/// The `candidates` that verify the delivery with a form of `secret`.
fn find_among(
    candidates: &[SignatureScheme],
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<Match> {
    let sets: Vec<(SecretForm, SecretSet)> = secret_forms(secret)
        .into_iter()
        .filter_map(|(form, key)| Some((form, SecretSet::new([key]).ok()?)))
        .collect();
    let mut matches = Vec::new();
    for scheme in candidates {
        for (form, set) in &sets {
            if Verifier::new(scheme.clone(), set.clone())
                .verify(headers, body)
                .is_ok()
            {
                matches.push(Match {
                    scheme: scheme.clone(),
                    secret: *form,
                });
            }
        }
    }
    matches
}

/// The preset this scheme is, when it is one (a bare list matches a preset that
/// accepts an optional prefix).
fn preset(found: &Match) -> Option<ProviderArg> {
    ProviderArg::ALL.into_iter().find(|provider| {
        let preset = provider.scheme();
        let scheme = &found.scheme;
        let format_fits = match (preset.format(), scheme.format()) {
            (SignatureFormat::List { prefix }, SignatureFormat::List { prefix: None }) => {
                prefix.is_some()
            }
            (a, b) => a == b,
        };
        let secret_fits = match provider {
            ProviderArg::Standard => found.secret == SecretForm::Standard,
            _ => found.secret == SecretForm::Utf8,
        };
        preset.header() == scheme.header()
            && preset.encoding() == scheme.encoding()
            && format_fits
            && preset.signed_content() == scheme.signed_content()
            && preset.timestamp_source() == scheme.timestamp_source()
            && secret_fits
    })
}

fn format_label(format: &SignatureFormat) -> String {
    match format {
        SignatureFormat::List { prefix: None } => "plain".to_owned(),
        SignatureFormat::List { prefix: Some(p) } => format!("prefix:{p}"),
        SignatureFormat::Versioned { version } => format!("versioned:{version},"),
        SignatureFormat::KeyValue { signature_key } => format!("key-value:{signature_key}="),
        _ => "other".to_owned(),
    }
}

fn format_rust(format: &SignatureFormat) -> String {
    match format {
        SignatureFormat::List { prefix: None } => {
            "SignatureFormat::List { prefix: None }".to_owned()
        }
        SignatureFormat::List { prefix: Some(p) } => {
            format!("SignatureFormat::List {{ prefix: Some({p:?}.to_owned()) }}")
        }
        SignatureFormat::Versioned { version } => {
            format!("SignatureFormat::versioned({version:?})")
        }
        SignatureFormat::KeyValue { signature_key } => {
            format!("SignatureFormat::key_value({signature_key:?})")
        }
        _ => "/* unknown format */".to_owned(),
    }
}

fn timestamp_label(source: Option<&TimestampSource>) -> String {
    match source {
        None => "-".to_owned(),
        Some(TimestampSource::Header(name)) => format!("header:{name}"),
        Some(TimestampSource::SignatureKey(key)) => format!("key:{key}"),
        Some(_) => "other".to_owned(),
    }
}

/// The one-line, `key=value` summary of a match.
fn summary(found: &Match) -> String {
    let scheme = &found.scheme;
    format!(
        "header={} encoding={} format={} signed={} timestamp={} secret={} preset={}",
        scheme.header(),
        match scheme.encoding() {
            Encoding::Base64 => "base64",
            _ => "hex",
        },
        format_label(scheme.format()),
        scheme.signed_content(),
        timestamp_label(scheme.timestamp_source()),
        found.secret.label(),
        preset(found).map_or("none", ProviderArg::name),
    )
}

/// A snippet to paste into a receiver.
fn snippet(found: &Match) -> String {
    if let Some(provider) = preset(found) {
        return match provider {
            ProviderArg::Claimr => {
                "let provider = Claimr::new(secret)?; // the default scheme".to_owned()
            }
            ProviderArg::Chainvine => {
                "let provider = ChainVine::new(secret)?; // the default scheme".to_owned()
            }
            ProviderArg::Standard => "let provider = Standard::new(secret)?;".to_owned(),
            ProviderArg::Github => {
                "let provider = HmacProvider::github().with_secret(secret).build()?;".to_owned()
            }
            ProviderArg::Stripe => {
                "let provider = HmacProvider::stripe().with_secret(secret).build()?;".to_owned()
            }
        };
    }
    let scheme = &found.scheme;
    let mut text = format!(
        "let scheme = SignatureScheme::new({:?})?\n    .with_encoding(Encoding::{:?})\n    .with_format({})\n    .with_signed_content({:?}.parse()?)",
        display_name(&scheme.header()),
        scheme.encoding(),
        format_rust(scheme.format()),
        scheme.signed_content().to_string(),
    );
    match scheme.timestamp_source() {
        Some(TimestampSource::Header(name)) => {
            text.push_str(&format!(
                "\n    .with_timestamp(TimestampSource::header({:?})?)",
                display_name(name)
            ));
        }
        Some(TimestampSource::SignatureKey(key)) => {
            text.push_str(&format!(
                "\n    .with_timestamp(TimestampSource::SignatureKey({key:?}.to_owned()))"
            ));
        }
        _ => {}
    }
    text.push_str(";\n");
    if found.secret == SecretForm::Utf8 && scheme.timestamp_source().is_none() {
        text.push_str("let provider = Claimr::new(secret)?.with_scheme(scheme)?; // or ChainVine");
    } else {
        text.push_str(&format!(
            "let verifier = Verifier::new(scheme, SecretSet::new([{}])?);",
            found.secret.rust()
        ));
    }
    text
}

/// The headers holding a `v1a` (ed25519) entry.
fn asymmetric_headers(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = Vec::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        let has_entry = value
            .split_ascii_whitespace()
            .any(|entry| entry.starts_with("v1a,"));
        if has_entry && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// One `v1a` entry that a given public key verifies.
struct AsymmetricMatch {
    provider: Standard,
    svix: bool,
}

/// The Standard Webhooks receivers (its own header names and Svix's) under which a given
/// public key verifies the delivery's `v1a` entry.
fn find_asymmetric(
    public_keys: &[PublicKey],
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<AsymmetricMatch> {
    let keys: Vec<String> = public_keys.iter().map(PublicKey::to_string).collect();
    let Ok(standard) = Standard::from_public_keys(&keys) else {
        return Vec::new();
    };
    let standard = standard.without_tolerance();
    [
        (standard.clone(), false),
        (standard.with_svix_headers(), true),
    ]
    .into_iter()
    .filter(|(provider, _)| provider.verifier().verify(headers, body).is_ok())
    .map(|(provider, svix)| AsymmetricMatch { provider, svix })
    .collect()
}

fn asymmetric_summary(found: &AsymmetricMatch) -> String {
    let scheme = found.provider.verifier().scheme();
    format!(
        "header={} encoding=base64 format=versioned:{}, signed={} timestamp={} secret=whpk-ed25519 preset={}",
        scheme.header(),
        scheme.asymmetric_version().unwrap_or("v1a"),
        scheme.signed_content(),
        timestamp_label(scheme.timestamp_source()),
        if found.svix { "none" } else { found.provider.name() },
    )
}

fn asymmetric_snippet(found: &AsymmetricMatch) -> &'static str {
    if found.svix {
        "let provider = Standard::from_public_keys([public_key])?.with_svix_headers();"
    } else {
        "let provider = Standard::from_public_keys([public_key])?;"
    }
}

/// One configuration that verifies a delivery, as the inspector shows it.
#[derive(serde::Serialize)]
pub struct Found {
    /// The `key=value` pairs of the summary line (`header`, `encoding`, `format`, ...).
    pub fields: Vec<(String, String)>,
    /// The Rust that configures it.
    pub snippet: String,
}

/// What `verify --detect` finds for a delivery with every given secret and public key.
#[derive(serde::Serialize)]
pub struct Report {
    /// The configurations that verify it; empty when none of the known shapes does.
    pub matches: Vec<Found>,
    /// How many headers were tried for the signature: those that could hold one, at
    /// most [`MOST_SIGNATURE_HEADERS`].
    pub headers_tried: usize,
    /// Remarks on `v1a` (ed25519) entries that no given public key checked.
    pub notes: Vec<String>,
}

fn fields(summary: &str) -> Vec<(String, String)> {
    summary
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Every configuration under which the delivery verifies with one of `secrets` or
/// `public_keys`, as `run` prints them, for the inspector.
pub fn report(
    secrets: &[String],
    public_keys: &[PublicKey],
    headers: &HeaderMap,
    body: &[u8],
) -> Report {
    let tried = Tried::of(headers);
    let candidates = candidates(&tried);
    let mut matches: Vec<Found> = Vec::new();
    for secret in secrets {
        for found in find_among(&candidates, secret, headers, body) {
            let summary = summary(&found);
            let fields = fields(&summary);
            if !matches.iter().any(|m| m.fields == fields) {
                matches.push(Found {
                    fields,
                    snippet: snippet(&found),
                });
            }
        }
    }
    let asymmetric = find_asymmetric(public_keys, headers, body);
    for found in &asymmetric {
        matches.push(Found {
            fields: fields(&asymmetric_summary(found)),
            snippet: asymmetric_snippet(found).to_owned(),
        });
    }
    let mut notes = Vec::new();
    if asymmetric.is_empty() {
        for name in asymmetric_headers(headers) {
            let why = if public_keys.is_empty() {
                "start the listener with the sender's public key (--public-key) to check it"
            } else {
                "no given public key verifies it"
            };
            notes.push(format!(
                "{} holds a v1a (ed25519) entry; {why}",
                display_name(&name)
            ));
        }
    }
    notes.extend(tried.left_out.iter().cloned());
    Report {
        matches,
        headers_tried: tried.signature_headers(),
        notes,
    }
}

/// Prints every configuration under which the delivery verifies; 1 when none does.
pub fn run(
    secret: Option<&str>,
    public_keys: &[PublicKey],
    headers: &HeaderMap,
    body: &[u8],
) -> ExitCode {
    let style = Style::stdout();
    let tried = Tried::of(headers);
    let matches = secret.map_or_else(Vec::new, |secret| {
        find_among(&candidates(&tried), secret, headers, body)
    });
    let asymmetric = find_asymmetric(public_keys, headers, body);
    let note = || {
        for left_out in &tried.left_out {
            println!("{}: {left_out}", style.bold("note"));
        }
        if !asymmetric.is_empty() {
            return;
        }
        for name in asymmetric_headers(headers) {
            let why = if public_keys.is_empty() {
                "give the sender's public key with --public-key to check it"
            } else {
                "no given public key verifies it"
            };
            println!(
                "{}: {} holds a v1a (ed25519) entry; {why}",
                style.bold("v1a"),
                display_name(&name)
            );
        }
    };
    if matches.is_empty() && asymmetric.is_empty() {
        let given = if secret.is_some() {
            "this secret"
        } else {
            "this public key"
        };
        println!(
            "{}: no scheme hookguard knows verifies this delivery with {given}",
            style.red("no match")
        );
        println!(
            "tried {} header(s), hex and base64, with and without prefixes and timestamps; \
             check the secret and that the body is byte for byte as received",
            tried.signature_headers()
        );
        note();
        return ExitCode::FAILURE;
    }
    for found in &matches {
        println!("{}: {}", style.green("match"), summary(found));
        for line in snippet(found).lines() {
            println!("    {}", style.dim(line));
        }
    }
    for found in &asymmetric {
        println!("{}: {}", style.green("match"), asymmetric_summary(found));
        println!("    {}", style.dim(asymmetric_snippet(found)));
    }
    note();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookguard::testing::Signer;

    fn find(secret: &str, headers: &HeaderMap, body: &[u8]) -> Vec<Match> {
        find_among(&candidates(&Tried::of(headers)), secret, headers, body)
    }

    /// A secret in Standard Webhooks' form, and a signer under Svix's headers.
    fn svix_signer() -> (&'static str, Signer) {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let signer = Signer::new(
            hookguard::Standard::svix_scheme(),
            Secret::from_standard(secret).unwrap(),
        );
        (secret, signer)
    }

    fn summaries(signer: &Signer, secret: &str) -> Vec<String> {
        let body = br#"{"type":"ping"}"#;
        let headers = signer.headers(body).unwrap();
        find(secret, &headers, body).iter().map(summary).collect()
    }

    #[test]
    fn a_timestamp_header_of_any_name_is_found() {
        let scheme = SignatureScheme::new("X-Sig")
            .unwrap()
            .with_format(SignatureFormat::List { prefix: None })
            .with_signed_content("{timestamp}.{body}".parse().unwrap())
            .with_timestamp(TimestampSource::header("X-Timestamp").unwrap());
        let signer = Signer::new(scheme, Secret::new("k").unwrap()).at(1_600_000_000);
        assert_eq!(
            summaries(&signer, "k"),
            [
                "header=x-sig encoding=hex format=plain signed={timestamp}.{body} \
              timestamp=header:x-timestamp secret=utf8 preset=none"
            ]
        );
    }

    #[test]
    fn svix_headers_and_github_are_found() {
        let (secret, svix) = svix_signer();
        assert_eq!(
            summaries(&svix, secret),
            [
                "header=svix-signature encoding=base64 format=versioned:v1, \
              signed={header:svix-id}.{timestamp}.{body} timestamp=header:svix-timestamp \
              secret=whsec-base64 preset=none"
            ]
        );
        let github = hookguard::HmacSender::github_signer("gh").unwrap();
        assert_eq!(
            summaries(&github, "gh"),
            [
                "header=x-hub-signature-256 encoding=hex format=prefix:sha256= signed={body} \
              timestamp=- secret=utf8 preset=github"
            ]
        );
    }

    #[test]
    fn the_report_names_a_scheme_in_a_header_of_its_own() {
        let scheme = SignatureScheme::new("X-Acme-Sig")
            .unwrap()
            .with_encoding(Encoding::Base64)
            .with_format(SignatureFormat::List { prefix: None });
        let signer = Signer::new(scheme, Secret::new("k2").unwrap());
        let body = br#"{"type":"ping"}"#;
        let headers = signer.headers(body).unwrap();
        let secrets = ["k1".to_owned(), "k2".to_owned()];
        let report = report(&secrets, &[], &headers, body);
        assert_eq!(report.matches.len(), 1);
        let fields = &report.matches[0].fields;
        assert!(fields.contains(&("header".to_owned(), "x-acme-sig".to_owned())));
        assert!(fields.contains(&("encoding".to_owned(), "base64".to_owned())));
        assert!(report.matches[0]
            .snippet
            .contains("SignatureScheme::new(\"X-Acme-Sig\")"));
        assert!(super::report(&["k1".to_owned()], &[], &headers, body)
            .matches
            .is_empty());
    }

    #[test]
    fn a_delivery_of_many_look_alike_headers_is_tried_within_bounds() {
        let (secret, svix) = svix_signer();
        let body = br#"{"type":"ping"}"#;
        // Look-alikes first, then the sender's own headers.
        let mut headers = HeaderMap::new();
        for i in 0..40 {
            let name = |suffix: &str| HeaderName::try_from(format!("x-n{i}{suffix}")).unwrap();
            headers.insert(name(""), (1_600_000_000 + i).into());
            headers.insert(name("-id"), "msg".parse().unwrap());
            headers.insert(name("-token"), "ab".repeat(32).parse().unwrap());
        }
        headers.extend(svix.headers(body).unwrap());
        let tried = Tried::of(&headers);
        assert_eq!(tried.signature_headers(), MOST_SIGNATURE_HEADERS);
        assert_eq!(tried.timestamps.len(), MOST_TIMESTAMP_HEADERS);
        assert_eq!(tried.ids.len(), MOST_ID_HEADERS);
        assert_eq!(tried.signatures[0].0, "svix-signature");
        assert_eq!(tried.timestamps[0], "svix-timestamp");
        assert_eq!(tried.ids[0], "svix-id");
        assert!(
            candidates(&tried).len() <= MOST_CANDIDATES,
            "{}",
            candidates(&tried).len()
        );
        let report = report(&[secret.to_owned()], &[], &headers, body);
        assert_eq!(report.matches.len(), 1);
        assert!(report.matches[0]
            .fields
            .contains(&("header".to_owned(), "svix-signature".to_owned())));
        assert_eq!(report.headers_tried, MOST_SIGNATURE_HEADERS);
        for what in ["a signature", "a timestamp", "a message id"] {
            assert!(
                report
                    .notes
                    .iter()
                    .any(|note| note.contains(what) && note.contains("41 headers")),
                "{what}: {:?}",
                report.notes
            );
        }
    }

    /// The most schemes one delivery can make: each signature header tries hex and
    /// base64, in each of the four formats its values may suggest (a plain list, and
    /// `sha256=`, `v1,` and `v1=` markers), over the body alone and over each timestamp
    /// (the `t=` of a key-value header as well), alone and with each id. Before the
    /// bounds, every one of 123 look-alike headers was tried, with 1 + 41 x 42 contents.
    const MOST_CANDIDATES: usize = MOST_SIGNATURE_HEADERS
        * 2
        * (3 * (1 + MOST_TIMESTAMP_HEADERS * (1 + MOST_ID_HEADERS))
            + (1 + (MOST_TIMESTAMP_HEADERS + 1) * (1 + MOST_ID_HEADERS)));

    #[test]
    fn a_header_sent_many_times_makes_no_more_schemes_than_once() {
        // Values that suggest every format between them, and decode as a tag both ways.
        let tag = "ab".repeat(32);
        let marked = format!("sha256={tag} v1,{tag} t=1600000000,v1={tag}");
        let delivery = |repeats: usize| {
            let mut headers = HeaderMap::new();
            for i in 0..4 {
                let name = HeaderName::try_from(format!("a{i}-id")).unwrap();
                headers.insert(name, 1_600_000_000.into());
            }
            for i in 0..20 {
                let name = HeaderName::try_from(format!("x{i}-sig")).unwrap();
                for _ in 0..repeats {
                    headers.append(name.clone(), marked.parse().unwrap());
                    headers.append(name.clone(), tag.parse().unwrap());
                }
            }
            headers
        };
        let once = candidates(&Tried::of(&delivery(1))).len();
        assert_eq!(candidates(&Tried::of(&delivery(5))).len(), once);
        // The worst case: every sort at its bound, every format suggested.
        assert_eq!(once, MOST_CANDIDATES);
    }

    #[test]
    fn the_shortest_tag_is_a_tag_in_unpadded_base64() {
        use base64::Engine as _;
        let tag = [0xa5u8; 32];
        let base64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag);
        assert_eq!(base64.len(), SHORTEST_TAG);
        assert!(hex::encode(tag).len() > SHORTEST_TAG);
    }

    #[test]
    fn a_value_too_short_for_a_tag_is_not_tried() {
        let mut headers = HeaderMap::new();
        headers.insert("x-sig", "a".repeat(SHORTEST_TAG - 1).parse().unwrap());
        assert!(Tried::of(&headers).signatures.is_empty());
        headers.insert("x-sig", "a".repeat(SHORTEST_TAG).parse().unwrap());
        assert_eq!(Tried::of(&headers).signature_headers(), 1);
        assert!(Tried::of(&headers).left_out.is_empty());
    }

    #[test]
    fn a_v1a_entry_is_found_with_its_public_key() {
        let key = hookguard::secret::SigningKey::from_seed([6; 32]);
        let body = br#"{"type":"ping"}"#;
        let headers = Standard::asymmetric_signer(&key.expose_standard())
            .unwrap()
            .headers(body)
            .unwrap();
        assert_eq!(asymmetric_headers(&headers), ["webhook-signature"]);
        let found = find_asymmetric(&[key.public_key()], &headers, body);
        let summaries: Vec<String> = found.iter().map(asymmetric_summary).collect();
        assert_eq!(
            summaries,
            [
                "header=webhook-signature encoding=base64 format=versioned:v1a, \
              signed={header:webhook-id}.{timestamp}.{body} timestamp=header:webhook-timestamp \
              secret=whpk-ed25519 preset=standard"
            ]
        );
        let other = hookguard::secret::SigningKey::from_seed([7; 32]).public_key();
        assert!(find_asymmetric(&[other], &headers, body).is_empty());
        assert!(find_asymmetric(&[], &headers, body).is_empty());
        // No secret verifies it as a v1 scheme.
        assert!(find("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &headers, body).is_empty());
    }
}
