//! What the inbox can take: signed claimr deliveries, each new, through the whole receiver
//! in process (the layer, the inbox's durable write, the answer), as deliveries stored per
//! second with latency percentiles; then how fast its workers handle (no-op handler) a
//! backlog of stored deliveries. On SQLite each stored delivery is one
//! `synchronous=FULL` transaction, so the figures include the fsyncs; on PostgreSQL, one
//! commit. Several processes: this binary started again as children, each storing its
//! share into one PostgreSQL inbox at once.
//!
//! ```text
//! cargo bench --bench inbox_load --features postgres
//! INBOX_LOAD_DELIVERIES=4000 INBOX_LOAD_CONCURRENCY="1 32" INBOX_LOAD_PROCESSES=2 \
//!   HOOKGUARD_POSTGRES_URL=postgres://... cargo bench --bench inbox_load --features postgres
//! ```
//!
//! Not a criterion bench, for the same reason as `payout_load`: sizing needs the tail.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookguard::inbox::{DeliveryFilter, DeliveryState, Inbox};
use hookguard::{claimr, Claimr, Dispatcher, WebhookLayer};
use http::StatusCode;
use tower::ServiceExt;

const SECRET: &str = "inbox-load-secret";

type Request = http::Request<http_body_util::Full<bytes::Bytes>>;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// `n` signed claimr deliveries, each with a fresh id.
fn deliveries(n: usize) -> Vec<Request> {
    let signer = Claimr::signer(SECRET).expect("a secret");
    (0..n)
        .map(|_| {
            let sample = Claimr::sample(claimr::EventKind::UserActivity);
            signer
                .sample_request("/webhooks/claimr", &sample)
                .expect("a signed request")
        })
        .collect()
}

/// An inbox on `target` with no workers: only the writes count.
async fn idle_inbox(target: &str) -> Inbox {
    Inbox::open(target).await.expect("an inbox").with_workers(0)
}

/// Stores every delivery, `concurrency` at a time: each one's latency, and the wall time.
async fn store_all(
    target: &str,
    concurrency: usize,
    requests: Vec<Request>,
) -> (Vec<Duration>, Duration) {
    let inbox = idle_inbox(target).await;
    let claimr = Claimr::new(SECRET).expect("a secret");
    let handlers = Dispatcher::<claimr::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, claimr.clone())
        .expect("an inbox dispatcher");
    let receiver = WebhookLayer::new(claimr).layer(handlers);
    let queue = Arc::new(Mutex::new(requests));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let receiver = receiver.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(request) = queue.lock().expect("the queue").pop() else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let response = receiver.clone().oneshot(request).await.expect("infallible");
                    assert_eq!(response.status(), StatusCode::OK);
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a sender"));
    }
    let wall = started.elapsed();
    inbox.shutdown(Duration::from_secs(5)).await;
    (latencies, wall)
}

/// Starts an inbox with `workers` on `target`'s backlog (everything made due) and times
/// it until every delivery is handled.
async fn drain(target: &str, workers: usize) -> (usize, Duration) {
    let inbox = Inbox::open(target)
        .await
        .expect("an inbox")
        .with_workers(workers)
        .with_poll_interval(Duration::from_millis(50));
    let store = inbox.store().clone();
    let backlog = store
        .list(&DeliveryFilter::new().with_limit(u32::MAX))
        .await
        .expect("the backlog");
    for delivery in &backlog {
        store
            .requeue(&delivery.provider, &delivery.key, None)
            .await
            .expect("requeued");
    }
    let claimr = Claimr::new(SECRET).expect("a secret");
    let started = Instant::now();
    let _handlers = Dispatcher::<claimr::Event>::new()
        .on_any(|_event| async { Ok(()) })
        .with_inbox(&inbox, claimr)
        .expect("an inbox dispatcher");
    let pending = DeliveryFilter::new()
        .with_state(DeliveryState::Pending)
        .with_limit(1);
    let running = DeliveryFilter::new()
        .with_state(DeliveryState::Running)
        .with_limit(1);
    loop {
        let left = store.list(&pending).await.expect("a list").len()
            + store.list(&running).await.expect("a list").len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    inbox.shutdown(Duration::from_secs(5)).await;
    (backlog.len(), wall)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(label: &str, concurrency: usize, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    println!(
        "{label:<22} {concurrency:>11} {:>10} {:>12.0} {:>8.2?} {:>8.2?} {:>8.2?}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}

/// A child process: connects, says `ready`, waits for `go`, stores its share, then
/// prints its latencies (microseconds, space-separated) and its wall time.
fn child(runtime: &tokio::runtime::Runtime, target: &str, n: usize, concurrency: usize) {
    let batch = deliveries(n);
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).expect("go");
    let (latencies, wall) = runtime.block_on(store_all(target, concurrency, batch));
    let micros: Vec<String> = latencies
        .iter()
        .map(|l| l.as_micros().to_string())
        .collect();
    println!("{}", micros.join(" "));
    println!("{}", wall.as_micros());
}

/// Stores `n` deliveries from `processes` children into `target` at once.
fn several(target: &str, n: usize, processes: usize, concurrency: usize) {
    let exe = std::env::current_exe().expect("this binary");
    let mut children: Vec<_> = (0..processes)
        .map(|_| {
            std::process::Command::new(&exe)
                .env("INBOX_LOAD_CHILD", target)
                .env("INBOX_LOAD_CHILD_DELIVERIES", (n / processes).to_string())
                .env("INBOX_LOAD_CHILD_CONCURRENCY", concurrency.to_string())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("a child")
        })
        .collect();
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|child| std::io::BufReader::new(child.stdout.take().expect("stdout")).lines())
        .collect();
    for lines in &mut outputs {
        assert_eq!(lines.next().expect("a line").expect("text"), "ready");
    }
    for child in &mut children {
        writeln!(child.stdin.as_mut().expect("stdin"), "go").expect("go");
    }
    let mut latencies = Vec::new();
    let mut wall = Duration::ZERO;
    for lines in &mut outputs {
        let micros = lines.next().expect("latencies").expect("text");
        latencies.extend(
            micros
                .split_whitespace()
                .map(|m| Duration::from_micros(m.parse().expect("a number"))),
        );
        let child_wall: u64 = lines
            .next()
            .expect("wall")
            .expect("text")
            .parse()
            .expect("a number");
        wall = wall.max(Duration::from_micros(child_wall));
    }
    for mut child in children {
        child.wait().expect("a child's exit");
    }
    report(
        &format!("postgres, {processes} processes"),
        concurrency,
        latencies,
        wall,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if let Ok(target) = std::env::var("INBOX_LOAD_CHILD") {
        let n = setting("INBOX_LOAD_CHILD_DELIVERIES", "100")
            .parse()
            .expect("a number");
        let c = setting("INBOX_LOAD_CHILD_CONCURRENCY", "32")
            .parse()
            .expect("a number");
        child(&runtime, &target, n, c);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, small.
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let n: usize = setting("INBOX_LOAD_DELIVERIES", if smoke { "20" } else { "2000" })
        .parse()
        .expect("INBOX_LOAD_DELIVERIES is a number");
    let levels: Vec<usize> = setting("INBOX_LOAD_CONCURRENCY", "1 32")
        .split_whitespace()
        .map(|c| c.parse().expect("INBOX_LOAD_CONCURRENCY is numbers"))
        .collect();
    let processes: usize = setting("INBOX_LOAD_PROCESSES", "2")
        .parse()
        .expect("INBOX_LOAD_PROCESSES is a number");
    let dir = std::env::temp_dir().join(format!("hookguard-inbox-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let mut targets = vec![("sqlite".to_owned(), None)];
    if cfg!(feature = "postgres") {
        if let Ok(url) = std::env::var("HOOKGUARD_POSTGRES_URL") {
            targets.push(("postgres".to_owned(), Some(url)));
        } else {
            eprintln!("HOOKGUARD_POSTGRES_URL is unset: SQLite only");
        }
    }
    println!(
        "stored into             concurrency deliveries   stored/s      p50      p99      max"
    );
    let mut drains = Vec::new();
    for (name, url) in &targets {
        for &concurrency in &levels {
            let target = match url {
                Some(url) => postgres_schema(&runtime, url, &format!("load_{concurrency}")),
                None => dir
                    .join(format!("inbox-{concurrency}.db"))
                    .display()
                    .to_string(),
            };
            let (latencies, wall) =
                runtime.block_on(store_all(&target, concurrency, deliveries(n)));
            report(name, concurrency, latencies, wall);
            if concurrency == *levels.last().expect("a level") {
                drains.push((name.clone(), target));
            }
        }
        if let Some(url) = url {
            if processes > 1 {
                let target = postgres_schema(&runtime, url, "load_processes");
                several(&target, n, processes, *levels.last().expect("a level"));
            }
        }
    }
    println!();
    println!("handled from a backlog   workers deliveries  handled/s");
    for (name, target) in drains {
        for workers in [1, 4] {
            let (count, wall) = runtime.block_on(drain(&target, workers));
            println!(
                "{name:<22} {workers:>9} {count:>10} {:>10.0}",
                count as f64 / wall.as_secs_f64()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh schema in the test database, as a URL whose connections use it.
fn postgres_schema(runtime: &tokio::runtime::Runtime, url: &str, name: &str) -> String {
    #[cfg(feature = "postgres")]
    {
        use sqlx::Executor;
        let schema = format!("hg_bench_{name}_{}", std::process::id());
        runtime.block_on(async {
            let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL");
            pool.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                .await
                .expect("drop");
            pool.execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .expect("create");
        });
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-csearch_path%3D{schema}")
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = (runtime, name);
        url.to_owned()
    }
}
