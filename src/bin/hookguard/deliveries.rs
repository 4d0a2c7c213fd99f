//! `deliveries`: the inbox's journal, read and acted on from a terminal or a script.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Subcommand};
use hookguard::inbox::{
    DeliveryFilter, DeliveryRecord, DeliveryState, DeliveryStore, DeliverySummary,
};
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::style::{pretty_json, Style};

#[derive(Args)]
pub struct DeliveriesArgs {
    /// The inbox: a SQLite file or a `postgres://` URL.
    #[arg(
        long,
        env = "HOOKGUARD_DB",
        default_value = "./inbox.db",
        global = true
    )]
    db: String,
    /// Print JSON (one object per line for `list`) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: DeliveriesCommand,
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// List stored deliveries, newest first.
    List(ListArgs),
    /// Show one delivery: headers, body and every attempt's outcome.
    Show(OneArgs),
    /// Run a delivery's handlers again (the receiver's workers take it at once), or
    /// re-send it as received with --to.
    Replay(ReplayArgs),
    /// Retry dead deliveries (one by id, or every dead one the filters select).
    Retry(RetryArgs),
}

#[derive(Args)]
struct Filters {
    /// Only this provider's (`claimr`, `chainvine`, ...).
    #[arg(long)]
    provider: Option<String>,
    /// Only this event name (as sent: `user_activity`, `EARNING_CREATED`).
    #[arg(long)]
    event: Option<String>,
    /// Received since: an RFC 3339 time, or an age such as `30m`, `2h`, `7d`.
    #[arg(long, value_parser = parse_since)]
    since: Option<OffsetDateTime>,
}

#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    filters: Filters,
    /// Only in this state: pending, running, handled or dead.
    #[arg(long, value_parser = parse_state)]
    state: Option<DeliveryState>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

#[derive(Args)]
struct OneArgs {
    /// The provider, when the id alone names deliveries of several.
    #[arg(long)]
    provider: Option<String>,
    /// The delivery's id (or its key, as `list --json` prints it).
    id: String,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    one: OneArgs,
    /// Re-send the delivery, headers and body as received, to this `http://` URL
    /// instead. A receiver checking timestamps refuses it once it is older than its
    /// window.
    #[arg(long)]
    to: Option<String>,
}

#[derive(Args)]
struct RetryArgs {
    #[command(flatten)]
    filters: Filters,
    /// One dead delivery's id; without it, every dead delivery the filters select.
    id: Option<String>,
}

fn parse_state(text: &str) -> Result<DeliveryState, String> {
    DeliveryState::from_name(text)
        .ok_or_else(|| format!("`{text}` is not pending, running, handled or dead"))
}

fn parse_since(text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let (number, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is neither an RFC 3339 time nor an age like 2h"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    let age = Duration::from_secs(number.saturating_mul(seconds));
    Ok(OffsetDateTime::now_utc() - age)
}

pub async fn run(args: DeliveriesArgs) -> ExitCode {
    let store = match DeliveryStore::open(&args.db).await {
        Ok(store) => store,
        Err(err) => return crate::usage(err),
    };
    let outcome = match args.command {
        DeliveriesCommand::List(list) => list_deliveries(&store, list, args.json).await,
        DeliveriesCommand::Show(one) => show(&store, one, args.json).await,
        DeliveriesCommand::Replay(replay) => replay_delivery(&store, replay, args.json).await,
        DeliveriesCommand::Retry(retry) => retry_dead(&store, retry, args.json).await,
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hookguard: {message}");
            ExitCode::FAILURE
        }
    }
}

fn time_text(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn summary_json(summary: &DeliverySummary) -> serde_json::Value {
    serde_json::json!({
        "provider": summary.provider,
        "event": summary.event,
        "id": summary.id,
        "key": summary.key,
        "state": summary.state.as_str(),
        "attempts": summary.attempts,
        "received_at": time_text(summary.received_at),
        "next_attempt_at": time_text(summary.next_attempt_at),
        "last_error": summary.last_error,
    })
}

/// The state, marked when the delivery was accepted unsigned (by explicit opt-in), so
/// that it is not taken for a signed one with the same id.
fn state_cell(delivery: &DeliverySummary) -> String {
    if delivery.key.starts_with("unsigned:") {
        format!("{} (unsigned)", delivery.state)
    } else {
        delivery.state.as_str().to_owned()
    }
}

fn painted_state(style: Style, state: DeliveryState) -> String {
    match state {
        DeliveryState::Handled => style.green(state.as_str()),
        DeliveryState::Dead => style.red(state.as_str()),
        _ => state.as_str().to_owned(),
    }
}

/// `text` as it may reach a terminal: control characters (escape sequences a sender
/// put in an id or an error) written as `\u{1b}`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` made printable and cut to `width` characters, with `…` when cut.
fn cut(text: &str, width: usize) -> String {
    let text = printable(text);
    if text.chars().count() <= width {
        text
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

async fn list_deliveries(
    store: &DeliveryStore,
    args: ListArgs,
    json: bool,
) -> Result<ExitCode, String> {
    let mut filter = DeliveryFilter::new().with_limit(args.limit);
    filter.provider = args.filters.provider;
    filter.event = args.filters.event;
    filter.since = args.filters.since;
    filter.state = args.state;
    let deliveries = store.list(&filter).await.map_err(|e| e.to_string())?;
    if json {
        for summary in &deliveries {
            println!("{}", summary_json(summary));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if deliveries.is_empty() {
        println!("no deliveries");
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::stdout();
    let rows: Vec<[String; 6]> = deliveries
        .iter()
        .map(|d| {
            [
                time_text(d.received_at),
                d.provider.clone(),
                cut(&d.event, 28),
                cut(&d.id, 40),
                state_cell(d),
                d.attempts.to_string(),
            ]
        })
        .collect();
    let heads = ["RECEIVED", "PROVIDER", "EVENT", "ID", "STATE", "ATTEMPTS"];
    let widths: Vec<usize> = (0..heads.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([heads[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line: Vec<String> = heads
        .iter()
        .zip(&widths)
        .map(|(head, width)| format!("{head:<width$}"))
        .collect();
    println!("{}  LAST ERROR", style.bold(line.join("  ").trim_end()));
    for (row, delivery) in rows.iter().zip(&deliveries) {
        let mut cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        // Padding is measured on the plain text; the colour goes around it.
        cells[4] = cells[4].replace(
            delivery.state.as_str(),
            &painted_state(style, delivery.state),
        );
        let error = delivery
            .last_error
            .as_deref()
            .map(|e| cut(e, 60))
            .unwrap_or_default();
        println!("{}  {}", cells.join("  "), style.dim(&error));
    }
    Ok(ExitCode::SUCCESS)
}

async fn find(store: &DeliveryStore, one: &OneArgs) -> Result<DeliveryRecord, String> {
    store
        .show(one.provider.as_deref(), &one.id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no delivery `{}` in the inbox", one.id))
}

async fn show(store: &DeliveryStore, one: OneArgs, json: bool) -> Result<ExitCode, String> {
    let record = find(store, &one).await?;
    if json {
        let mut value = summary_json(&record.summary);
        value["signed"] = record.signed.into();
        value["headers"] = record
            .headers
            .iter()
            .map(|(name, value)| {
                serde_json::json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())])
            })
            .collect();
        value["body"] = String::from_utf8_lossy(&record.body).into();
        value["attempt_log"] = record
            .attempts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "attempt": a.number,
                    "started_at": time_text(a.started_at),
                    "finished_at": time_text(a.finished_at),
                    "outcome": a.outcome,
                    "error": a.error,
                })
            })
            .collect();
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::stdout();
    let s = &record.summary;
    let field = |name: &str, value: &str| println!("{} {value}", style.bold(&format!("{name}:")));
    field("Provider", &printable(&s.provider));
    field("Event", &printable(&s.event));
    field("Id", &printable(&s.id));
    field("Key", &printable(&s.key));
    field("State", &painted_state(style, s.state));
    field("Attempts", &s.attempts.to_string());
    field("Received", &time_text(s.received_at));
    if s.state == DeliveryState::Pending {
        field("Next attempt", &time_text(s.next_attempt_at));
    }
    if !record.signed {
        field("Signed", "no (accepted unsigned by explicit opt-in)");
    }
    if let Some(pruned) = record.pruned_at {
        field(
            "Pruned",
            &format!("{} (headers and body removed)", time_text(pruned)),
        );
    }
    println!("{}", style.bold("Headers:"));
    for (name, value) in &record.headers {
        println!(
            "  {name}: {}",
            printable(&String::from_utf8_lossy(value.as_bytes()))
        );
    }
    println!("{}", style.bold("Body:"));
    // Pretty JSON escapes control characters itself; other bodies are made printable.
    println!(
        "{}",
        pretty_json(&record.body)
            .unwrap_or_else(|| printable(&String::from_utf8_lossy(&record.body)))
    );
    println!("{}", style.bold("Attempts:"));
    let mut expected = 1;
    for attempt in &record.attempts {
        // A number with no record started and never ended (a crash, a lost lease).
        while expected < attempt.number {
            println!(
                "  #{expected} {}",
                style.dim("did not end (process stopped or lease lost)")
            );
            expected += 1;
        }
        let outcome = match attempt.outcome.as_str() {
            "handled" => style.green("handled"),
            other => style.red(other),
        };
        let error = attempt
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        println!(
            "  #{} {} at {}{error}",
            attempt.number,
            outcome,
            time_text(attempt.finished_at)
        );
        expected = attempt.number + 1;
    }
    while expected <= s.attempts {
        let what = if s.state == DeliveryState::Running && expected == s.attempts {
            "running"
        } else {
            "did not end (process stopped or lease lost)"
        };
        println!("  #{expected} {}", style.dim(what));
        expected += 1;
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay_delivery(
    store: &DeliveryStore,
    args: ReplayArgs,
    json: bool,
) -> Result<ExitCode, String> {
    let record = find(store, &args.one).await?;
    let Some(url) = args.to else {
        let requeued = store
            .requeue(&record.summary.provider, &record.summary.key, None)
            .await
            .map_err(|e| e.to_string())?;
        if json {
            println!(
                "{}",
                serde_json::json!({"id": record.summary.id, "provider": record.summary.provider, "requeued": requeued})
            );
        } else if requeued {
            println!(
                "requeued {} {}: the receiver runs it again",
                record.summary.provider, record.summary.id
            );
        } else {
            println!(
                "{} {} was not requeued: it is being handled right now (try again when it \
                 ends), or it was kept by a listener and never runs in a receiver",
                record.summary.provider, record.summary.id
            );
        }
        return Ok(if requeued {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    };
    let uri: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs can be sent to (put a TLS proxy in front)".into());
    }
    let mut request = Request::post(uri)
        .body(Full::new(record.body.clone()))
        .map_err(|e| e.to_string())?;
    for (name, value) in &record.headers {
        if name != HOST && name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            request.headers_mut().append(name, value.clone());
        }
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let response = client.request(request).await?;
        let status = response.status();
        let data = response.into_body().collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, data))
    })
    .await
    .map_err(|_| format!("{url}: no answer within 30 s"))?
    .map_err(|e| format!("{url}: {e}"))?;
    let (status, data) = answer;
    let text = String::from_utf8_lossy(&data);
    if json {
        println!(
            "{}",
            serde_json::json!({"id": record.summary.id, "provider": record.summary.provider, "status": status.as_u16(), "data": text})
        );
    } else {
        let style = Style::stdout();
        let painted = if status.is_success() {
            style.green(status.as_str())
        } else {
            style.red(status.as_str())
        };
        println!("{} {painted}", style.bold("Status:"));
        println!("{} {}", style.bold("Data:"), cut(&text, 500));
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn retry_dead(
    store: &DeliveryStore,
    args: RetryArgs,
    json: bool,
) -> Result<ExitCode, String> {
    let targets: Vec<DeliverySummary> = match &args.id {
        Some(id) => {
            let one = OneArgs {
                provider: args.filters.provider.clone(),
                id: id.clone(),
            };
            let record = find(store, &one).await?;
            if record.summary.state != DeliveryState::Dead {
                return Err(format!(
                    "{} {} is {}, not dead (replay runs any delivery again)",
                    record.summary.provider, record.summary.id, record.summary.state
                ));
            }
            vec![record.summary]
        }
        None => {
            let mut filter = DeliveryFilter::new()
                .with_state(DeliveryState::Dead)
                .with_limit(u32::MAX);
            filter.provider = args.filters.provider.clone();
            filter.event = args.filters.event.clone();
            filter.since = args.filters.since;
            store.list(&filter).await.map_err(|e| e.to_string())?
        }
    };
    let mut retried = 0usize;
    for target in &targets {
        if store
            .requeue(&target.provider, &target.key, Some(DeliveryState::Dead))
            .await
            .map_err(|e| e.to_string())?
        {
            retried += 1;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": target.id, "provider": target.provider, "retried": true})
                );
            } else {
                println!(
                    "retrying {} {} ({})",
                    target.provider, target.id, target.event
                );
            }
        }
    }
    if !json {
        println!("{retried} dead deliveries retried");
    }
    Ok(if args.id.is_some() && retried == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
