//! The cost of the payout claim protocol: one payment request claimed, run (a no-op
//! handler) and recorded done, in its own task, on each store; and a duplicate of a
//! paid request answered from the store. On SQLite every claim and record is a
//! `synchronous=FULL` write, so these figures include the fsyncs.
//!
//! ```text
//! cargo bench --bench payout
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hookguard::idempotency::{Idempotency, MemoryStore, Outcome, SqliteStore};
use hookguard::HandlerError;

type Run = Result<Outcome, hookguard::idempotency::RunError<HandlerError>>;

fn claims(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("hookguard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let stores = [
        ("memory", Idempotency::new(MemoryStore::new())),
        (
            "sqlite",
            Idempotency::new(
                runtime
                    .block_on(SqliteStore::open(dir.join("claims.db")))
                    .expect("a SQLite store"),
            ),
        ),
    ];
    let fingerprint = "v1:bench";
    let mut group = c.benchmark_group("payout");
    group.measurement_time(Duration::from_secs(5));
    for (name, idempotency) in &stores {
        let next = AtomicU64::new(0);
        group.bench_function(format!("{name}/new_request"), |b| {
            b.to_async(&runtime).iter(|| {
                let key = format!("bench:{}", next.fetch_add(1, Ordering::Relaxed));
                async move {
                    let run: Run = idempotency
                        .run(key, fingerprint, |_| async { Ok(()) })
                        .await;
                    assert!(matches!(run, Ok(Outcome::Ran { attempt: 1 })));
                }
            })
        });
        runtime.block_on(async {
            let _: Run = idempotency
                .run("bench:paid", fingerprint, |_| async { Ok(()) })
                .await;
        });
        group.bench_function(format!("{name}/duplicate_of_a_paid_request"), |b| {
            b.to_async(&runtime).iter(|| async {
                let run: Run = idempotency
                    .run("bench:paid", fingerprint, |_| async { Ok(()) })
                    .await;
                assert!(matches!(run, Ok(Outcome::AlreadyDone { .. })));
            })
        });
    }
    group.finish();
    drop(stores);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, claims);
criterion_main!(benches);
