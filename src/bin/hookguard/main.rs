//! `hookguard`: sign, verify, send and receive webhooks from the command line.
//!
//! ```text
//! hookguard sign   --provider claimr --secret S body.json
//! hookguard verify --provider claimr --secret S --header 'X-Claimr-Signature: …' body.json
//! hookguard verify --detect --secret S --header '…' --header '…' body.json
//! hookguard send   --provider claimr --event user_activity --secret S http://127.0.0.1:3000/webhooks/claimr
//! hookguard listen --secret S --forward-to http://127.0.0.1:3000/webhooks/claimr
//! hookguard listen --ui --secret S   # and open http://127.0.0.1:4000/
//! hookguard deliveries list --db ./inbox.db --state dead
//! hookguard deliveries show --db ./inbox.db <id>
//! hookguard deliveries replay --db ./inbox.db <id> [--to http://…]
//! hookguard deliveries retry --db ./inbox.db [<id>]
//! hookguard keygen
//! ```
//!
//! Standard Webhooks' asymmetric (`v1a`, ed25519) signatures: `--signing-key whsk_…` signs
//! them (`sign`, `send`), `--public-key whpk_…` verifies them (`verify`, `listen`), and
//! `keygen` makes a key pair.
//!
//! Exit status: 0 when valid or sent with a 2xx answer, 1 when invalid or answered
//! otherwise, 2 for a usage error.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hookguard::secret::{PublicKey, SigningKey};
use http::{HeaderMap, HeaderName, HeaderValue};

mod deliveries;
mod detect;
mod net;
mod providers;
mod style;
mod ui;

use providers::ProviderArg;

#[derive(Parser)]
#[command(
    name = "hookguard",
    version,
    about = "Sign, verify, send and receive webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the headers that sign a body, as the provider would send them.
    Sign(SignArgs),
    /// Say whether a captured delivery is validly signed, or find its scheme with --detect.
    Verify(VerifyArgs),
    /// Send a signed sample (or given) event to a URL and show what happened.
    Send(net::SendArgs),
    /// Receive deliveries locally, verify and print each, and optionally forward them.
    Listen(net::ListenArgs),
    /// Look into an inbox: list, show, replay and retry stored deliveries.
    Deliveries(deliveries::DeliveriesArgs),
    /// Make an ed25519 key pair for Standard Webhooks' asymmetric (v1a) signatures.
    Keygen,
}

#[derive(Args)]
struct SignArgs {
    /// Whose scheme to sign with.
    #[arg(long, value_enum)]
    provider: ProviderArg,
    /// The webhook secret (`whsec_…` base64 for standard).
    #[arg(
        long,
        env = "HOOKGUARD_SECRET",
        hide_env_values = true,
        required_unless_present = "signing_key"
    )]
    secret: Option<String>,
    /// An ed25519 signing key (`whsk_…`, standard only): sign the asymmetric `v1a` entry,
    /// after the `v1` one when --secret is given too.
    #[arg(long, env = "HOOKGUARD_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// Sign as of these unix seconds instead of now (timestamped schemes).
    #[arg(long)]
    timestamp: Option<i64>,
    /// The message id for schemes that sign one (standard's `webhook-id`).
    #[arg(long)]
    id: Option<String>,
    /// The body to sign; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    file: String,
}

#[derive(Args)]
struct VerifyArgs {
    /// Whose scheme to check against (not with --detect).
    #[arg(
        long,
        value_enum,
        required_unless_present = "detect",
        conflicts_with = "detect"
    )]
    provider: Option<ProviderArg>,
    /// Try every scheme hookguard knows and print the configurations that match.
    #[arg(long)]
    detect: bool,
    /// The webhook secret, as the provider's dashboard shows it.
    #[arg(
        long,
        env = "HOOKGUARD_SECRET",
        hide_env_values = true,
        required_unless_present = "public_key"
    )]
    secret: Option<String>,
    /// An ed25519 public key (`whpk_…`) for Standard Webhooks' asymmetric `v1a`
    /// entries; repeat for several (with --detect too).
    #[arg(long, env = "HOOKGUARD_PUBLIC_KEY", hide_env_values = true)]
    public_key: Vec<String>,
    /// A header of the delivery, `Name: value`; repeat for each.
    #[arg(long = "header", short = 'H', value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The delivery's exact body; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    file: String,
}

/// Reads `Name: value`.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not `Name: value`"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("header name: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("header value: {e}"))?;
    Ok((name, value))
}

/// The bytes of `file`, or of standard input for `-`.
fn read_input(file: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(PathBuf::from(file))?;
    }
    Ok(bytes)
}

/// Fails with the usage exit status.
fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("hookguard: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args),
        Command::Send(args) => net::run(net::send(args)),
        Command::Listen(args) => net::run(net::listen(args)),
        Command::Deliveries(args) => net::run(deliveries::run(args)),
        Command::Keygen => keygen(),
    }
}

/// Prints a new key pair: the signing key for the sender, the public key for receivers.
fn keygen() -> ExitCode {
    let mut seed = [0u8; hookguard::secret::ED25519_KEY_LEN];
    if let Err(err) = getrandom::fill(&mut seed) {
        eprintln!("hookguard: no randomness: {err}");
        return ExitCode::FAILURE;
    }
    let key = SigningKey::from_seed(seed);
    let style = style::Style::stdout();
    println!("{}: {}", style.bold("Signing-Key"), key.expose_standard());
    println!("{}: {}", style.bold("Public-Key"), key.public_key());
    ExitCode::SUCCESS
}

fn sign(args: SignArgs) -> ExitCode {
    let body = match read_input(&args.file) {
        Ok(body) => body,
        Err(err) => return usage(format_args!("{}: {err}", args.file)),
    };
    let signer = args
        .provider
        .signer_with(args.secret.as_deref(), args.signing_key.as_deref());
    let mut signer = match signer {
        Ok(signer) => signer,
        Err(err) => return usage(err),
    };
    if let Some(timestamp) = args.timestamp {
        signer = signer.at(timestamp);
    }
    if let Some(id) = args.id {
        signer = signer.with_message_id(id);
    }
    match signer.headers(&body) {
        Ok(headers) => {
            let style = style::Style::stdout();
            for (name, value) in &headers {
                println!(
                    "{}: {}",
                    style.bold(&providers::display_name(name)),
                    String::from_utf8_lossy(value.as_bytes())
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => usage(err),
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let body = match read_input(&args.file) {
        Ok(body) => body,
        Err(err) => return usage(format_args!("{}: {err}", args.file)),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in args.headers {
        headers.append(name, value);
    }
    if args.detect {
        let mut public_keys = Vec::new();
        for key in &args.public_key {
            match PublicKey::from_standard(key) {
                Ok(key) => public_keys.push(key),
                Err(err) => return usage(err),
            }
        }
        return detect::run(args.secret.as_deref(), &public_keys, &headers, &body);
    }
    let Some(provider) = args.provider else {
        return usage("--provider or --detect is needed");
    };
    let verifier = match provider.verifier_with(args.secret.as_deref(), &args.public_key) {
        Ok(verifier) => verifier,
        Err(err) => return usage(err),
    };
    let style = style::Style::stdout();
    match verifier.verify(&headers, &body) {
        Ok(()) => {
            print!("{}", style.green("valid"));
            match providers::describe(provider.name(), &headers, &body) {
                Some((event, id)) => println!(": {} event {event} id {id}", provider.name()),
                None => println!(": {} (the body is not a known event)", provider.name()),
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            println!("{}: {err}", style.red("invalid"));
            println!("{}", providers::explain(err, verifier.scheme(), &headers));
            ExitCode::FAILURE
        }
    }
}
