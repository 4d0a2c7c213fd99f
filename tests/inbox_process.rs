//! `examples/inbox` run as users run it, over loopback: stored before the answer (killed
//! right after it, restarted, handled), retries with the documented waits, dead and
//! retried from the CLI, the journal from the CLI, and two processes sharing one
//! PostgreSQL inbox.

#![cfg(feature = "cli")] // the `hookguard` binary reads the journal
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// A handled delivery's stdout line.
#[derive(Debug, serde::Deserialize, PartialEq, Eq)]
struct Handled {
    provider: String,
    event: String,
    id: String,
    attempt: u32,
}

fn claimr_body(id: &str) -> Vec<u8> {
    String::from_utf8(fixture("claimr/user_activity.json"))
        .unwrap()
        .replace(&claimr_fixture_id(), id)
        .into_bytes()
}

fn claimr_fixture_id() -> String {
    let value: serde_json::Value =
        serde_json::from_slice(&fixture("claimr/user_activity.json")).unwrap();
    value["id"].as_str().unwrap().to_owned()
}

/// Starts the inbox example on `db` with `env`, keeping its JSON lines.
fn start_inbox(db: &str, env: &[(&str, &str)]) -> Receiver {
    let path = example_path("inbox");
    assert!(path.exists(), "{} is not built", path.display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(path);
    command
        .env("HOOKGUARD_ADDR", &addr)
        .env("CLAIMR_SECRET", CLAIMR_SECRET)
        .env("CHAINVINE_SECRET", CHAINVINE_SECRET)
        .env("HOOKGUARD_DB", db)
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    start_process(command, &addr, |line| Some(line.to_owned()))
}

/// The next handled line within `limit`, if any.
fn next_handled(receiver: &Receiver, limit: Duration) -> Option<Handled> {
    let line = receiver.lines.recv_timeout(limit).ok()?;
    Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
}

fn temp_db(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("{}.db", unique_name(name)))
        .display()
        .to_string()
}

fn hookguard_cli(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .env_remove("HOOKGUARD_DB")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.code() != Some(2),
        "usage error from {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), stdout)
}

async fn post(base: &str, body: Vec<u8>) -> (http::StatusCode, String) {
    send_to(&http_client(), base, claimr_request(body)).await
}

#[tokio::test]
async fn a_delivery_answered_2xx_is_handled_after_the_process_is_killed() {
    let db = temp_db("inbox_kill");
    let id = unique_name("kill");
    // The first process can never handle it (every attempt fails), and is killed right
    // after the answer.
    let mut first = start_inbox(
        &db,
        &[
            ("HOOKGUARD_FAIL_FIRST", "1000000"),
            ("HOOKGUARD_LEASE_MS", "1000"),
            ("HOOKGUARD_RETRY_BASE_MS", "50"),
        ],
    );
    let (status, text) = post(&first.base, claimr_body(&id)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text, "stored");
    first.kill();
    assert!(next_handled(&first, Duration::from_millis(100)).is_none());
    // Restarted on the same file: the delivery is there, and handled.
    let second = start_inbox(
        &db,
        &[
            ("HOOKGUARD_LEASE_MS", "1000"),
            ("HOOKGUARD_RETRY_BASE_MS", "50"),
        ],
    );
    let handled = next_handled(&second, Duration::from_secs(20)).expect("handled after restart");
    assert_eq!(handled.provider, "claimr");
    assert_eq!(handled.event, "user_activity");
    assert_eq!(handled.id, id);
    assert!(handled.attempt >= 1);
}

#[tokio::test]
async fn failed_attempts_are_retried_after_the_documented_waits() {
    let db = temp_db("inbox_waits");
    let receiver = start_inbox(
        &db,
        &[
            ("HOOKGUARD_FAIL_FIRST", "2"),
            ("HOOKGUARD_RETRY_BASE_MS", "300"),
        ],
    );
    let id = unique_name("waits");
    let sent = Instant::now();
    let (status, _) = post(&receiver.base, claimr_body(&id)).await;
    assert_eq!(status, 200);
    let handled = next_handled(&receiver, Duration::from_secs(20)).expect("handled");
    let waited = sent.elapsed();
    assert_eq!(handled.id, id);
    assert_eq!(handled.attempt, 3);
    // 300 ms, then 600 ms.
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    // And the journal has the three attempts (the line is printed by the handler, just
    // before the outcome is written).
    let mut shown = serde_json::Value::Null;
    for _ in 0..100 {
        let (ok, json) = hookguard_cli(&["deliveries", "show", "--db", &db, "--json", &id]);
        assert!(ok);
        shown = serde_json::from_str(&json).unwrap();
        if shown["state"] == "handled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["state"], "handled");
    let outcomes: Vec<&str> = shown["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "failed", "handled"]);
    assert_eq!(shown["attempt_log"][0]["error"], "demo failure 1 of 2");
    assert!(shown["body"].as_str().unwrap().contains(&id));
    assert!(shown["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "x-claimr-signature" || h[0].as_str().unwrap().contains("signature")));
}

#[tokio::test]
async fn a_dead_delivery_is_retried_from_the_cli() {
    let db = temp_db("inbox_dead_cli");
    // Ten attempts by default, and the first ten fail: it dies.
    let receiver = start_inbox(
        &db,
        &[
            ("HOOKGUARD_FAIL_FIRST", "10"),
            ("HOOKGUARD_RETRY_BASE_MS", "1"),
        ],
    );
    let id = unique_name("dead");
    let (status, _) = post(&receiver.base, claimr_body(&id)).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, lines) = hookguard_cli(&[
            "deliveries",
            "list",
            "--db",
            &db,
            "--json",
            "--state",
            "dead",
        ]);
        assert!(ok);
        if lines.contains(&id) {
            let listed: serde_json::Value =
                serde_json::from_str(lines.lines().next().unwrap()).unwrap();
            assert_eq!(listed["attempts"], 10);
            assert_eq!(listed["last_error"], "demo failure 10 of 10");
            break;
        }
        assert!(Instant::now() < deadline, "never dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(next_handled(&receiver, Duration::from_millis(200)).is_none());
    // The table view names it too.
    let (ok, table) = hookguard_cli(&["deliveries", "list", "--db", &db]);
    assert!(ok);
    assert!(table.starts_with("RECEIVED"), "{table}");
    assert!(table.contains(&id) && table.contains("dead"), "{table}");
    // Retried from the CLI: attempt 11 succeeds.
    let (ok, out) = hookguard_cli(&["deliveries", "retry", "--db", &db, &id]);
    assert!(ok, "{out}");
    assert!(out.contains("1 dead deliveries retried"), "{out}");
    let handled = next_handled(&receiver, Duration::from_secs(10)).expect("handled after retry");
    assert_eq!((handled.id.as_str(), handled.attempt), (id.as_str(), 11));
    // A delivery that is not dead is not retried.
    let (ok, _) = hookguard_cli(&["deliveries", "retry", "--db", &db, &id]);
    assert!(!ok);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn two_processes_on_one_postgresql_inbox_handle_each_delivery_once() {
    // A schema of its own, so that no other run's deliveries are in the way.
    let Some(db) = postgres_schema_url("hg_inbox").await else {
        return;
    };
    let a = start_inbox(&db, &[("HOOKGUARD_LEASE_MS", "5000")]);
    let b = start_inbox(&db, &[("HOOKGUARD_LEASE_MS", "5000")]);
    let ids: Vec<String> = (0..40)
        .map(|n| unique_name(&format!("shared{n}")))
        .collect();
    // Every delivery sent to both processes, as a sender retrying on another node would:
    // half of them to A first, half to B first (the first store wakes its own workers).
    let client = http_client();
    let sends = ids.iter().enumerate().map(|(n, id)| {
        let (first, second) = if n % 2 == 0 {
            (&a.base, &b.base)
        } else {
            (&b.base, &a.base)
        };
        let client = client.clone();
        let body = claimr_body(id);
        async move {
            let (status, text) = send_to(&client, first, claimr_request(body.clone())).await;
            assert_eq!((status.as_u16(), text.as_str()), (200, "stored"));
            let (status, text) = send_to(&client, second, claimr_request(body)).await;
            assert_eq!((status.as_u16(), text.as_str()), (200, "already stored"));
        }
    });
    futures_util::future::join_all(sends).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut by_process = [0usize; 2];
    let mut collect = |seen: &mut HashMap<String, usize>| {
        for (n, receiver) in [&a, &b].into_iter().enumerate() {
            while let Ok(line) = receiver.lines.try_recv() {
                let handled: Handled = serde_json::from_str(&line).unwrap();
                *seen.entry(handled.id).or_default() += 1;
                by_process[n] += 1;
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < ids.len() && Instant::now() < deadline {
        collect(&mut seen);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A moment more for any second run to show itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    collect(&mut seen);
    eprintln!("handled by process: {by_process:?}");
    assert!(
        by_process.iter().all(|&n| n > 0),
        "the work was not shared: {by_process:?}"
    );
    for id in &ids {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "{id} handled {:?} times",
            seen.get(id)
        );
    }
    assert_eq!(seen.len(), ids.len());
    // The journal, read from the CLI on the same URL.
    let (ok, lines) = hookguard_cli(&[
        "deliveries",
        "list",
        "--db",
        &db,
        "--json",
        "--limit",
        "100",
    ]);
    assert!(ok);
    assert_eq!(lines.lines().count(), ids.len());
    assert!(lines.lines().all(|l| l.contains("\"state\":\"handled\"")));
}
