//! A deterministic, seeded simulation of the payout claim protocol
//! ([`hookguard::idempotency`]) over the memory and SQLite stores.
//!
//! ## The model
//!
//! Each schedule is generated from one `u64` seed and run on its own current-thread tokio
//! runtime with paused (virtual) time, so the same seed replays the same schedule, event
//! for event (`a_seed_replays_the_same_schedule` checks it, trace against trace).
//!
//! - **Deliveries.** One to four keys, two to five deliveries each at random virtual
//!   times, some with a changed fingerprint (other content under the same key). A
//!   delivery's caller may give up at a random moment (its `run` future is dropped).
//! - **The store** is wrapped in a [`FaultyStore`]: at each call, by the seeded RNG, it
//!   fails before reaching the real store, delays before and/or after it (virtual
//!   sleeps, some longer than the protocol's call timeouts), applies the call and loses
//!   its answer, or passes it through.
//! - **The handler** is a correct payer with a ledger standing for the bank: on a
//!   recovery it first asks the bank (an await that may fail: then it returns `Err`, as
//!   the README's `bank.find_transfer(..).await?` does) whether the transfer is there,
//!   and returns `Ok` without paying if so; otherwise it transfers at a random point and
//!   returns `Ok`, panics (before or after the transfer), returns a plain `Err` (only
//!   before transferring: it means "not paid"), or an `Err` marked
//!   [outcome unknown](hookguard::HandlerError::with_outcome_unknown) (before or after
//!   the transfer: the bank timed out). Its steps are separated by virtual delays, some
//!   longer than the lease (so renewals matter). One schedule in ten also bounds runs
//!   with [`Idempotency::with_max_run`].
//! - **Crashes.** Each simulated process is a *generation* with its own `Idempotency`
//!   over the one real store. A crash marks the generation dead: from then on each of
//!   its store calls (before or after reaching the store) and each of its handlers'
//!   awaits pends forever, and its callers get no answer; a new generation starts at
//!   once. Everything the old one held in memory is thereby lost, as in a real crash,
//!   without dropping the runtime (whose paused clock keeps the replay exact).
//! - **Leases and clocks.** On the memory store (leases on tokio's clock) a lease runs
//!   out when virtual time passes it, and a clock step is `tokio::time::advance` (the
//!   whole process stalls). The SQLite store measures leases by the database's wall
//!   clock, which virtual time does not move; its lease is long (60 s, far beyond the
//!   real time a schedule takes) and expiry and clock steps (both ways) are simulated
//!   by moving `lease_until` in the table, in whole multiples of 5 s so that the few
//!   real milliseconds a schedule takes cannot flip a comparison. Each SQLite call runs
//!   on a thread of its own with a real-time runtime while the simulation thread blocks
//!   on its answer: to the simulation every SQLite call is instantaneous.
//! - **Healing.** After the last event, faults stop, handlers only succeed, virtual time
//!   passes every lease (on SQLite the leases are moved past it), and every key is
//!   delivered again until it is answered 2xx (bounded). Under
//!   [`RecoveryPolicy::Hold`] (one schedule in ten) an operator settles held keys with
//!   [`Idempotency::resolve`] after looking the key up in the ledger.
//!
//! ## The invariants, checked after every schedule
//!
//! 1. No key is paid twice (at most one ledger transfer per key).
//! 2. Among a key's runs that returned `Ok`, in attempt order, every one after the first
//!    was a recovery.
//! 3. Whenever a delivery is answered 2xx (`Ran` or `AlreadyDone`), the real store's
//!    record of the key is `Done` at that moment, with that delivery's fingerprint, and
//!    the ledger holds the transfer; `Ran { attempt }` names a run that returned `Ok`.
//! 4. After healing, every key is `Done`, and every `Done` key was paid.
//! 5. A changed fingerprint is never paid: every run and transfer of a key carries the
//!    fingerprint its first claim recorded, and no delivery with another one is
//!    answered 2xx.
//! 6. No handler starts on a claim that another attempt has already taken over when the
//!    protocol could tell by its own clock that the claim's lease had run out (it was
//!    applied a whole lease or more before the handler started).
//!
//! A double payment (or a second plain `Ok`) to which a *zombie* contributed — an
//! attempt that lost its claim while it ran (its process stalled, or the store did not
//! take its renewals, for a whole lease, and another attempt took over) and transferred
//! anyway — is the documented limit of a lease without fencing (SECURITY.md: "the
//! payment system's idempotency key is the last fence"). It is counted and reported,
//! not failed, unless `HOOKGUARD_SIM_STRICT=1`. A zombie *born* so (invariant 6) is
//! not excused.
//!
//! ## Knobs
//!
//! - `HOOKGUARD_SIM_SCHEDULES=<n>`: `n` schedules on the memory store (10,000 by
//!   default) and `n / 20` on SQLite (`HOOKGUARD_SIM_SQLITE_SCHEDULES` sets that one).
//! - `HOOKGUARD_SIM_SEED=<seed>`: replays that one schedule, printing its trace.
//! - `HOOKGUARD_SIM_STRICT=1`: zombie double payments fail too.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Once};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use hookguard::idempotency::store::{Claim, Record, State, Unresolved};
use hookguard::idempotency::{
    Attempt, Idempotency, MemoryStore, Outcome, RecoveryPolicy, Resolution, RunError, SqliteStore,
    Store, StoreError,
};
use hookguard::HandlerError;
use tokio::sync::watch;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------
// A small seeded PRNG (splitmix64): no dependency, and a seed is the whole schedule.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Uniform in `lo..=hi`, to the millisecond.
    fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        ms(self.between(lo.as_millis() as u64, hi.as_millis() as u64))
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------
// The real stores, called synchronously.
// ---------------------------------------------------------------------------------------

/// One store call, owned, so that it can be sent to the SQLite thread.
#[derive(Debug, Clone)]
enum Op {
    Claim {
        key: String,
        fingerprint: String,
        lease: Duration,
        recover: bool,
    },
    Renew {
        key: String,
        attempt: u32,
        lease: Duration,
    },
    Complete {
        key: String,
        attempt: u32,
    },
    Release {
        key: String,
        attempt: u32,
    },
    Abandon {
        key: String,
        attempt: u32,
    },
    ReportUnknown {
        key: String,
        attempt: u32,
    },
    Resolve {
        key: String,
        resolution: Resolution,
    },
    Record {
        key: String,
    },
}

impl Op {
    /// The call, for the trace.
    fn text(&self) -> String {
        match self {
            Op::Claim {
                key,
                fingerprint,
                recover,
                ..
            } => format!("claim {key} fp={fingerprint:?} recover={recover}"),
            Op::Renew { key, attempt, .. } => format!("renew {key} #{attempt}"),
            Op::Complete { key, attempt } => format!("complete {key} #{attempt}"),
            Op::Release { key, attempt } => format!("release {key} #{attempt}"),
            Op::Abandon { key, attempt } => format!("abandon {key} #{attempt}"),
            Op::ReportUnknown { key, attempt } => format!("report_unknown {key} #{attempt}"),
            Op::Resolve { key, resolution } => format!("resolve {key} {resolution:?}"),
            Op::Record { key } => format!("record {key}"),
        }
    }
}

/// A store call's answer.
#[derive(Debug)]
enum Value {
    Claim(Claim),
    Unit,
    Settled(bool),
    Record(Option<Record>),
}

impl Value {
    fn into_claim(self) -> Claim {
        match self {
            Value::Claim(claim) => claim,
            other => unreachable!("a claim answered {other:?}"),
        }
    }

    fn into_settled(self) -> bool {
        match self {
            Value::Settled(settled) => settled,
            other => unreachable!("a resolve answered {other:?}"),
        }
    }

    fn into_record(self) -> Option<Record> {
        match self {
            Value::Record(record) => record,
            other => unreachable!("a record answered {other:?}"),
        }
    }
}

/// An answer for the trace, without what depends on real time (SQLite's `lease_left`
/// is measured by the wall clock).
fn answer_text(answer: &Result<Value, StoreError>) -> String {
    match answer {
        Ok(Value::Claim(Claim::Running { attempt, .. })) => format!("running #{attempt}"),
        Ok(Value::Claim(claim)) => format!("{claim:?}"),
        Ok(Value::Record(Some(record))) => format!("{:?} #{}", record.state, record.attempt),
        Ok(value) => format!("{value:?}"),
        Err(err) => format!("error: {err}"),
    }
}

async fn apply_op<S: Store + ?Sized>(store: &S, op: &Op) -> Result<Value, StoreError> {
    Ok(match op {
        Op::Claim {
            key,
            fingerprint,
            lease,
            recover,
        } => Value::Claim(store.claim(key, fingerprint, *lease, *recover).await?),
        Op::Renew {
            key,
            attempt,
            lease,
        } => {
            store.renew(key, *attempt, *lease).await?;
            Value::Unit
        }
        Op::Complete { key, attempt } => {
            store.complete(key, *attempt).await?;
            Value::Unit
        }
        Op::Release { key, attempt } => {
            store.release(key, *attempt).await?;
            Value::Unit
        }
        Op::Abandon { key, attempt } => {
            store.abandon(key, *attempt).await?;
            Value::Unit
        }
        Op::ReportUnknown { key, attempt } => {
            store.report_unknown(key, *attempt).await?;
            Value::Unit
        }
        Op::Resolve { key, resolution } => Value::Settled(store.resolve(key, *resolution).await?),
        Op::Record { key } => Value::Record(store.record(key).await?),
    })
}

enum Job {
    Apply(Op, mpsc::Sender<Result<Value, StoreError>>),
    /// Moves the timestamps (`lease_until`, `updated_at`) of the keys matching a `LIKE`
    /// pattern by `ms` milliseconds: as if they were written that much later (earlier,
    /// for a negative `ms`), which is how a step of the database's clock looks to them.
    Shift {
        pattern: String,
        ms: i64,
        done: mpsc::Sender<()>,
    },
}

/// A [`SqliteStore`] on a thread of its own with a real-time runtime. sqlx runs SQLite
/// on worker threads, and a paused runtime waiting on them would advance its clock by
/// however long they took; blocking the simulation's thread on each call instead makes
/// every call instantaneous in virtual time.
struct SqliteThread {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl SqliteThread {
    /// A fresh database in a file of its own (in `/dev/shm` where there is one: the
    /// store syncs every write).
    fn start() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = PathBuf::from("/dev/shm");
        let dir = if dir.is_dir() {
            dir
        } else {
            std::env::temp_dir()
        };
        let path = dir.join(format!(
            "hookguard-sim-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (ready, is_ready) = mpsc::channel();
        let file = path.clone();
        let thread = std::thread::Builder::new()
            .name("sim-sqlite".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let store = runtime.block_on(SqliteStore::open(&file)).unwrap();
                ready.send(()).unwrap();
                for job in receiver {
                    match job {
                        Job::Apply(op, answer) => {
                            let _ = answer.send(runtime.block_on(apply_op(&store, &op)));
                        }
                        Job::Shift { pattern, ms, done } => {
                            runtime
                                .block_on(
                                    sqlx::query(
                                        "UPDATE hookguard_claims SET lease_until = lease_until + ?1, \
                                         updated_at = updated_at + ?1 WHERE key LIKE ?2",
                                    )
                                    .bind(ms)
                                    .bind(pattern)
                                    .execute(store.pool()),
                                )
                                .unwrap();
                            let _ = done.send(());
                        }
                    }
                }
                runtime.block_on(store.pool().close());
            })
            .unwrap();
        is_ready.recv().expect("the SQLite store opens");
        Self {
            jobs: Some(jobs),
            thread: Some(thread),
            path,
        }
    }

    fn send(&self, job: Job) {
        self.jobs.as_ref().unwrap().send(job).unwrap();
    }

    fn apply(&self, op: Op) -> Result<Value, StoreError> {
        let (answer, answered) = mpsc::channel();
        self.send(Job::Apply(op, answer));
        answered.recv().expect("the SQLite thread answers")
    }

    fn shift(&self, pattern: String, ms: i64) {
        let (done, is_done) = mpsc::channel();
        self.send(Job::Shift { pattern, ms, done });
        is_done.recv().expect("the SQLite thread answers");
    }
}

impl Drop for SqliteThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Memory,
    Sqlite,
}

/// The real store under test, called synchronously (it never awaits the runtime).
#[derive(Clone)]
enum Backend {
    Memory(Arc<MemoryStore>),
    Sqlite(Arc<SqliteThread>),
}

impl Backend {
    fn apply(&self, op: &Op) -> Result<Value, StoreError> {
        match self {
            Backend::Memory(store) => apply_op(&**store, op)
                .now_or_never()
                .expect("the memory store answers at once"),
            Backend::Sqlite(thread) => thread.apply(op.clone()),
        }
    }

    /// The key's record as it is now, bypassing every fault.
    fn record(&self, key: &str) -> Option<Record> {
        self.apply(&Op::Record { key: key.into() })
            .expect("the real store answers")
            .into_record()
    }
}

// ---------------------------------------------------------------------------------------
// A schedule: everything a seed decides up front.
// ---------------------------------------------------------------------------------------

/// The SQLite lease: far longer than the real time a schedule takes, so that only the
/// simulated clock moves (see the module docs).
const SQLITE_LEASE: Duration = Duration::from_secs(60);

/// SQLite clock steps and expiries move `lease_until` by multiples of this.
const SQLITE_STEP_MS: u64 = 5_000;

/// How many healing deliveries a key gets before it counts as stuck.
const HEALING_TRIES: usize = 12;

#[derive(Debug, Clone)]
struct KeySpec {
    name: String,
    fingerprint: String,
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        key: usize,
        /// `Some(n)`: the n-th changed content under this key.
        changed: Option<u64>,
        /// When the caller gives up, if it does.
        cancel_after: Option<Duration>,
    },
    /// The current process dies; a new one starts at once over the same store.
    Crash,
    /// The clock jumps by this many milliseconds (backwards only on SQLite).
    ClockStep(i64),
    /// One key's lease runs out at once (SQLite: its row's `lease_until` moves back).
    ExpireLease(usize),
}

#[derive(Debug, Clone)]
struct Schedule {
    lease: Duration,
    wait: Duration,
    policy: RecoveryPolicy,
    /// [`Idempotency::with_max_run`], on some schedules.
    max_run: Option<Duration>,
    /// The chance, per store call, of a fault.
    store_fault_percent: u64,
    /// The chance, per run, that the handler does not simply succeed.
    handler_fault_percent: u64,
    /// What every key name of the schedule starts with (`s<seed>-`).
    prefix: String,
    keys: Vec<KeySpec>,
    events: Vec<(Duration, Event)>,
}

impl Schedule {
    fn generate(seed: u64, kind: Kind) -> Self {
        let mut rng = Rng::new(seed);
        let prefix = format!("s{seed}-");
        let lease = match kind {
            Kind::Memory => Duration::from_secs(rng.pick(&[1, 2, 5])),
            Kind::Sqlite => SQLITE_LEASE,
        };
        let horizon = lease * 5;
        let wait = match rng.below(4) {
            0 => Duration::ZERO,
            1 => ms(rng.between(1, 300)),
            2 => ms(rng.between(300, 2_000)),
            _ => Duration::from_secs(2),
        };
        let policy = if rng.percent(10) {
            RecoveryPolicy::Hold
        } else {
            RecoveryPolicy::Run
        };
        let max_run = rng.percent(10).then(|| lease * rng.between(3, 8) as u32);
        let store_fault_percent = rng.pick(&[0, 5, 15, 30, 50]);
        let handler_fault_percent = rng.pick(&[0, 20, 40, 60]);
        let mut keys = Vec::new();
        let mut events = Vec::new();
        for key in 0..rng.between(1, 4) as usize {
            keys.push(KeySpec {
                name: format!("{prefix}k{key}"),
                fingerprint: format!("{} USDC to 0x{key:02x}", rng.between(1, 999)),
            });
            for delivery in 0..rng.between(2, 5) {
                let at = if delivery == 0 {
                    rng.duration(Duration::ZERO, lease)
                } else {
                    rng.duration(Duration::ZERO, horizon)
                };
                let changed = (delivery > 0 && rng.percent(12)).then_some(delivery);
                let cancel_after = rng
                    .percent(30)
                    .then(|| rng.duration(Duration::ZERO, lease * 2));
                events.push((
                    at,
                    Event::Deliver {
                        key,
                        changed,
                        cancel_after,
                    },
                ));
            }
        }
        for _ in 0..2 {
            if rng.percent(45) {
                events.push((rng.duration(Duration::ZERO, horizon), Event::Crash));
            }
        }
        for _ in 0..rng.below(3) {
            let at = rng.duration(Duration::ZERO, horizon);
            let step = match kind {
                Kind::Memory => rng.duration(lease / 4, lease * 2).as_millis() as i64,
                Kind::Sqlite => {
                    let step = (SQLITE_STEP_MS * rng.between(1, 24)) as i64;
                    if rng.percent(60) {
                        step
                    } else {
                        -step
                    }
                }
            };
            events.push((at, Event::ClockStep(step)));
        }
        if kind == Kind::Sqlite {
            for _ in 0..rng.below(3) {
                let key = rng.below(keys.len() as u64) as usize;
                events.push((
                    rng.duration(Duration::ZERO, horizon),
                    Event::ExpireLease(key),
                ));
            }
        }
        // A stable sort: events at the same instant keep their generated order.
        events.sort_by_key(|(at, _)| *at);
        Self {
            lease,
            wait,
            policy,
            max_run,
            store_fault_percent,
            handler_fault_percent,
            prefix,
            keys,
            events,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Counters, summed over a batch.
// ---------------------------------------------------------------------------------------

macro_rules! stats {
    ($($field:ident),* $(,)?) => {
        #[derive(Debug, Default, Clone)]
        struct Stats { $($field: u64),* }

        impl Stats {
            fn add(&mut self, other: &Stats) {
                $(self.$field += other.$field;)*
            }
        }

        impl std::fmt::Display for Stats {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut first = true;
                $(
                    if !first { f.write_str(", ")?; }
                    first = false;
                    write!(f, "{} {}", stringify!($field).replace('_', " "), self.$field)?;
                )*
                let _ = first;
                Ok(())
            }
        }
    };
}

stats!(
    schedules,
    deliveries,
    answered_2xx,
    runs,
    recoveries,
    lease_takeovers,
    crashes,
    faults_injected,
    clock_steps,
    lease_expiries,
    cancelled_callers,
    conflicts,
    held,
    resolved_by_operator,
    busy,
    lost_claims,
    handler_errors,
    handler_unknown_outcomes,
    handler_panics,
    store_errors,
    transfers,
    zombie_transfers,
    zombie_double_payments,
);

// ---------------------------------------------------------------------------------------
// The simulated world.
// ---------------------------------------------------------------------------------------

/// What a handler's run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
    Ok,
    Err,
    /// `Err` marked outcome unknown.
    Unknown,
    Panic,
}

#[derive(Debug, Clone)]
struct RunRecord {
    key: String,
    attempt: u32,
    recovery: bool,
    /// The attempt it recovers from, for a recovery.
    previous_attempt: Option<u32>,
    fingerprint: String,
    generation: u32,
    /// `None` while running, or forever if its process died.
    end: Option<RunEnd>,
}

#[derive(Debug, Clone)]
struct Transfer {
    key: String,
    attempt: u32,
    fingerprint: String,
    generation: u32,
    /// Made by an attempt that no longer held its claim.
    zombie: bool,
}

#[derive(Default)]
struct World {
    runs: Vec<RunRecord>,
    /// The ledger: every transfer the bank made.
    transfers: Vec<Transfer>,
    /// The fingerprint each key's first claim (attempt 1) recorded.
    first_fingerprint: BTreeMap<String, String>,
    /// When each (key, attempt) was acquired in the real store, since the start.
    acquired_at: BTreeMap<(String, u32), Duration>,
    violations: Vec<String>,
    stats: Stats,
    /// The schedule's events, when asked for (replays and the determinism check).
    trace: Option<Vec<String>>,
}

/// The panic payload of a handler's deliberate panic: the panic hook stays quiet for it.
struct SimPanic;

/// How a handler run will go, drawn when it starts.
struct HandlerPlan {
    /// Before the bank lookup, during it, before the transfer, after it.
    delays: [Duration; 4],
    /// A recovery's bank lookup fails (the handler returns `Err`).
    lookup_fails: bool,
    ending: Ending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Ok,
    /// `Err` before transferring: not paid.
    ErrBefore,
    PanicBefore,
    PanicAfter,
    /// `Err` marked outcome unknown, without transferring (the send never reached the
    /// bank) or after it (the bank's answer timed out).
    UnknownBefore,
    UnknownAfter,
}

/// A store-call fault, drawn at each call.
#[derive(Debug, Default, Clone, Copy)]
struct Fault {
    delay_before: Option<Duration>,
    fail_before: bool,
    delay_after: Option<Duration>,
    lose_answer: bool,
}

/// What a delivery's caller was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ran(u32),
    AlreadyDone(u32),
    HandlerFailed,
    Panicked,
    Busy,
    Held,
    Conflict,
    LostClaim,
    StoreDown,
    Other,
    /// The caller gave up before an answer.
    Cancelled,
    /// The process died before answering.
    Crashed,
}

struct Sim {
    backend: Backend,
    schedule: Schedule,
    rng: Mutex<Rng>,
    healing: AtomicBool,
    strict: bool,
    start: Instant,
    world: Mutex<World>,
}

impl Sim {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn rng(&self) -> MutexGuard<'_, Rng> {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn healing(&self) -> bool {
        self.healing.load(Ordering::SeqCst)
    }

    fn lease(&self) -> Duration {
        self.schedule.lease
    }

    /// Adds to the trace, if one is kept.
    fn note(&self, text: impl FnOnce() -> String) {
        if self.world().trace.is_none() {
            return;
        }
        let line = format!("{:>9} ms  {}", self.start.elapsed().as_millis(), text());
        if let Some(trace) = self.world().trace.as_mut() {
            trace.push(line);
        }
    }

    fn violation(&self, text: String) {
        self.note(|| format!("VIOLATION {text}"));
        let elapsed = self.start.elapsed().as_millis();
        self.world()
            .violations
            .push(format!("at {elapsed} ms: {text}"));
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.world().stats);
    }

    fn has_transfer(&self, key: &str) -> bool {
        self.world().transfers.iter().any(|t| t.key == key)
    }

    /// A process (generation) and its protocol over the faulty store.
    fn start_process(self: &Arc<Self>, generation: u32) -> (Arc<Process>, Idempotency) {
        let process = Process::new(generation);
        let store = FaultyStore {
            sim: Arc::clone(self),
            process: Arc::clone(&process),
        };
        let mut idempotency = Idempotency::new(store)
            .with_lease(self.lease())
            .unwrap()
            .with_wait(self.schedule.wait)
            .with_recovery_policy(self.schedule.policy);
        if let Some(max_run) = self.schedule.max_run {
            idempotency = idempotency.with_max_run(max_run);
        }
        (process, idempotency)
    }

    fn store_fault(&self, op: &Op, generation: u32) -> Fault {
        if self.healing() {
            return Fault::default();
        }
        let lease = self.lease();
        let fault = {
            let mut rng = self.rng();
            if !rng.percent(self.schedule.store_fault_percent) {
                return Fault::default();
            }
            let delay = |rng: &mut Rng| match rng.below(10) {
                // Past the protocol's 10 s call timeout (and most renewal spacings).
                0 => rng.duration(Duration::from_secs(5), Duration::from_secs(15)),
                // Around the renewal spacing, a third of the lease.
                1 | 2 => rng.duration(lease / 6, lease),
                _ => ms(rng.between(1, 200)),
            };
            match rng.below(100) {
                0..=29 => Fault {
                    fail_before: true,
                    ..Fault::default()
                },
                30..=44 => Fault {
                    delay_before: Some(delay(&mut rng)),
                    fail_before: true,
                    ..Fault::default()
                },
                45..=59 => Fault {
                    delay_before: Some(delay(&mut rng)),
                    ..Fault::default()
                },
                60..=74 => Fault {
                    delay_after: Some(delay(&mut rng)),
                    ..Fault::default()
                },
                75..=92 => Fault {
                    lose_answer: true,
                    ..Fault::default()
                },
                _ => Fault {
                    delay_after: Some(delay(&mut rng)),
                    lose_answer: true,
                    ..Fault::default()
                },
            }
        };
        self.count(|s| s.faults_injected += 1);
        self.note(|| format!("g{generation} fault on {}: {fault:?}", op.text()));
        fault
    }

    /// A call on the real store, noted.
    fn apply(&self, op: &Op, generation: u32) -> Result<Value, StoreError> {
        let answer = self.backend.apply(op);
        if let (
            Op::Claim {
                key, fingerprint, ..
            },
            Ok(Value::Claim(claim)),
        ) = (op, &answer)
        {
            if let Claim::Acquired { attempt, .. } = claim {
                let now = self.start.elapsed();
                self.world()
                    .acquired_at
                    .insert((key.clone(), *attempt), now);
            }
            match claim {
                Claim::Acquired { attempt: 1, .. } => {
                    let earlier = self
                        .world()
                        .first_fingerprint
                        .insert(key.clone(), fingerprint.clone());
                    if let Some(earlier) = earlier {
                        self.violation(format!(
                            "{key}: acquired as attempt 1 twice (first with {earlier:?})"
                        ));
                    }
                }
                Claim::Acquired {
                    recovery: Some(recovery),
                    ..
                } => self.count(|s| {
                    s.recoveries += 1;
                    if recovery.reason == Unresolved::LeaseExpired {
                        s.lease_takeovers += 1;
                    }
                }),
                Claim::Conflict { .. } => self.count(|s| s.conflicts += 1),
                _ => {}
            }
        }
        self.note(|| format!("g{generation} {} -> {}", op.text(), answer_text(&answer)));
        answer
    }

    fn handler_plan(&self) -> HandlerPlan {
        let healing = self.healing();
        let lease = self.lease();
        let mut rng = self.rng();
        let mut delay = || {
            if healing {
                return ms(rng.below(100));
            }
            match rng.below(100) {
                0..=44 => Duration::ZERO,
                45..=89 => ms(rng.between(1, 300)),
                // Longer than the lease: the run lives on its renewals.
                _ => rng.duration(lease / 2, lease * 3),
            }
        };
        let delays = [delay(), delay(), delay(), delay()];
        if healing || !rng.percent(self.schedule.handler_fault_percent) {
            return HandlerPlan {
                delays,
                lookup_fails: false,
                ending: Ending::Ok,
            };
        }
        HandlerPlan {
            delays,
            lookup_fails: rng.percent(30),
            ending: rng.pick(&[
                Ending::ErrBefore,
                Ending::ErrBefore,
                Ending::PanicBefore,
                Ending::PanicAfter,
                Ending::UnknownBefore,
                Ending::UnknownAfter,
            ]),
        }
    }

    fn begin_run(&self, key: &str, attempt: Attempt, fingerprint: &str, generation: u32) -> usize {
        self.note(|| {
            format!(
                "g{generation} run {key} #{} recovery={:?}",
                attempt.number(),
                attempt.recovery()
            )
        });
        // Invariant 6: no handler starts on a claim already taken over, when the protocol
        // could tell by its own clock that its lease had run out (the claim was sent no
        // later than it was applied, a whole lease ago).
        let acquired = self
            .world()
            .acquired_at
            .get(&(key.to_owned(), attempt.number()))
            .copied();
        let age = acquired.map(|at| self.start.elapsed().saturating_sub(at));
        if let Some(age) = age.filter(|&age| age >= self.lease()) {
            let record = self.backend.record(key);
            let held = matches!(
                &record,
                Some(r) if r.state == State::Running && r.attempt == attempt.number()
            );
            if !held {
                self.violation(format!(
                    "{key}: attempt {} started {age:?} after its claim was applied (lease {:?}), \
                     when the key was already {record:?}: a handler ran beside another attempt",
                    attempt.number(),
                    self.lease()
                ));
            }
        }
        let mut world = self.world();
        world.stats.runs += 1;
        world.runs.push(RunRecord {
            key: key.to_owned(),
            attempt: attempt.number(),
            recovery: attempt.is_recovery(),
            previous_attempt: attempt.recovery().map(|r| r.previous_attempt),
            fingerprint: fingerprint.to_owned(),
            generation,
            end: None,
        });
        world.runs.len() - 1
    }

    fn end_run(&self, run: usize, end: RunEnd) {
        let mut world = self.world();
        world.runs[run].end = Some(end);
        match end {
            RunEnd::Ok => {}
            RunEnd::Err => world.stats.handler_errors += 1,
            RunEnd::Unknown => world.stats.handler_unknown_outcomes += 1,
            RunEnd::Panic => world.stats.handler_panics += 1,
        }
        let run = world.runs[run].clone();
        drop(world);
        self.note(|| {
            format!(
                "g{} run {} #{} ends {end:?}",
                run.generation, run.key, run.attempt
            )
        });
    }

    /// The bank moves the money. Whether the attempt still held its claim is read from
    /// the real store, for the report.
    fn transfer(&self, key: &str, fingerprint: &str, attempt: u32, generation: u32) {
        let record = self.backend.record(key);
        let zombie =
            !matches!(&record, Some(r) if r.state == State::Running && r.attempt == attempt);
        self.note(|| format!("g{generation} TRANSFER {key} #{attempt} zombie={zombie}"));
        let mut world = self.world();
        world.stats.transfers += 1;
        if zombie {
            world.stats.zombie_transfers += 1;
        }
        world.transfers.push(Transfer {
            key: key.to_owned(),
            attempt,
            fingerprint: fingerprint.to_owned(),
            generation,
            zombie,
        });
    }

    /// What a delivery was told; a 2xx is checked against the real store at once.
    fn answered(
        &self,
        key: &str,
        fingerprint: &str,
        generation: u32,
        result: Option<Result<Outcome, RunError<HandlerError>>>,
    ) -> Answer {
        let answer = match result {
            None => Answer::Cancelled,
            Some(Ok(Outcome::Ran { attempt })) => Answer::Ran(attempt),
            Some(Ok(Outcome::AlreadyDone { attempt })) => Answer::AlreadyDone(attempt),
            Some(Ok(_)) => Answer::Other,
            Some(Err(RunError::Handler(_))) => Answer::HandlerFailed,
            Some(Err(RunError::Panicked)) => Answer::Panicked,
            Some(Err(RunError::Busy { .. })) => Answer::Busy,
            Some(Err(RunError::Held { .. })) => Answer::Held,
            Some(Err(RunError::Conflict { .. })) => Answer::Conflict,
            Some(Err(RunError::LostClaim { .. })) => Answer::LostClaim,
            Some(Err(RunError::Store(_))) => Answer::StoreDown,
            Some(Err(_)) => Answer::Other,
        };
        self.note(|| format!("g{generation} answer {key} fp={fingerprint:?}: {answer:?}"));
        self.count(|s| match answer {
            Answer::Ran(_) | Answer::AlreadyDone(_) => s.answered_2xx += 1,
            Answer::Busy => s.busy += 1,
            Answer::Held => s.held += 1,
            Answer::LostClaim => s.lost_claims += 1,
            Answer::StoreDown => s.store_errors += 1,
            Answer::Cancelled => s.cancelled_callers += 1,
            _ => {}
        });
        if let Answer::Ran(attempt) | Answer::AlreadyDone(attempt) = answer {
            // Invariant 3: a 2xx only for a key recorded done, with this content, and paid.
            match self.backend.record(key) {
                Some(record) if record.state == State::Done => {
                    if record.fingerprint != fingerprint {
                        self.violation(format!(
                            "{key}: 2xx for fingerprint {fingerprint:?}, but the key was \
                             recorded with {:?}",
                            record.fingerprint
                        ));
                    }
                    if record.attempt != attempt {
                        self.violation(format!(
                            "{key}: answered {answer:?}, but attempt {} is recorded done",
                            record.attempt
                        ));
                    }
                }
                other => self.violation(format!(
                    "{key}: 2xx ({answer:?}) but the record is {other:?}"
                )),
            }
            if !self.has_transfer(key) {
                self.violation(format!(
                    "{key}: 2xx ({answer:?}) with no transfer in the ledger"
                ));
            }
            if let Answer::Ran(_) = answer {
                let ran = self.world().runs.iter().any(|run| {
                    run.key == key && run.attempt == attempt && run.end == Some(RunEnd::Ok)
                });
                if !ran {
                    self.violation(format!(
                        "{key}: Ran {{ attempt: {attempt} }} but that run did not return Ok"
                    ));
                }
            }
        }
        answer
    }
}

/// One simulated process: a generation that can die.
struct Process {
    generation: u32,
    dead: watch::Sender<bool>,
}

impl Process {
    fn new(generation: u32) -> Arc<Self> {
        Arc::new(Self {
            generation,
            dead: watch::Sender::new(false),
        })
    }

    fn is_dead(&self) -> bool {
        *self.dead.borrow()
    }

    fn kill(&self) {
        self.dead.send_replace(true);
    }

    /// Pends forever once the process is dead: nothing it does afterwards happens.
    async fn alive(&self) {
        if self.is_dead() {
            std::future::pending::<()>().await;
        }
    }

    /// One await of the process: a virtual delay, after which it must still be alive.
    async fn step(&self, delay: Duration) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.alive().await;
    }

    async fn died(&self) {
        let mut dead = self.dead.subscribe();
        let _ = dead.wait_for(|dead| *dead).await;
    }
}

/// The real store behind seeded faults, as one process sees it.
struct FaultyStore {
    sim: Arc<Sim>,
    process: Arc<Process>,
}

impl FaultyStore {
    async fn call(&self, op: Op) -> Result<Value, StoreError> {
        let generation = self.process.generation;
        self.process.alive().await;
        let fault = self.sim.store_fault(&op, generation);
        if let Some(delay) = fault.delay_before {
            self.process.step(delay).await;
        }
        if fault.fail_before {
            return Err(StoreError::Unavailable(
                "injected: store unreachable".into(),
            ));
        }
        let answer = self.sim.apply(&op, generation);
        if let Some(delay) = fault.delay_after {
            self.process.step(delay).await;
        }
        if fault.lose_answer {
            return Err(StoreError::Unavailable("injected: answer lost".into()));
        }
        answer
    }
}

impl Store for FaultyStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a str,
        lease: Duration,
        recover: bool,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        let op = Op::Claim {
            key: key.into(),
            fingerprint: fingerprint.into(),
            lease,
            recover,
        };
        Box::pin(async move { self.call(op).await.map(Value::into_claim) })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
        lease: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let op = Op::Renew {
            key: key.into(),
            attempt,
            lease,
        };
        Box::pin(async move { self.call(op).await.map(drop) })
    }

    fn complete<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let op = Op::Complete {
            key: key.into(),
            attempt,
        };
        Box::pin(async move { self.call(op).await.map(drop) })
    }

    fn release<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let op = Op::Release {
            key: key.into(),
            attempt,
        };
        Box::pin(async move { self.call(op).await.map(drop) })
    }

    fn abandon<'a>(&'a self, key: &'a str, attempt: u32) -> BoxFuture<'a, Result<(), StoreError>> {
        let op = Op::Abandon {
            key: key.into(),
            attempt,
        };
        Box::pin(async move { self.call(op).await.map(drop) })
    }

    fn report_unknown<'a>(
        &'a self,
        key: &'a str,
        attempt: u32,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let op = Op::ReportUnknown {
            key: key.into(),
            attempt,
        };
        Box::pin(async move { self.call(op).await.map(drop) })
    }

    fn resolve<'a>(
        &'a self,
        key: &'a str,
        resolution: Resolution,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let op = Op::Resolve {
            key: key.into(),
            resolution,
        };
        Box::pin(async move { self.call(op).await.map(Value::into_settled) })
    }

    fn record<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let op = Op::Record { key: key.into() };
        Box::pin(async move { self.call(op).await.map(Value::into_record) })
    }
}

// ---------------------------------------------------------------------------------------
// The handler, the deliveries and the schedule's run.
// ---------------------------------------------------------------------------------------

/// The payout handler: a correct payer (see the module docs).
async fn pay(
    sim: Arc<Sim>,
    process: Arc<Process>,
    key: String,
    fingerprint: String,
    attempt: Attempt,
) -> Result<(), HandlerError> {
    let plan = sim.handler_plan();
    let run = sim.begin_run(&key, attempt, &fingerprint, process.generation);
    let declined = || HandlerError::msg("declined: nothing paid");
    let unknown = || HandlerError::msg("the bank timed out").with_outcome_unknown();
    process.step(plan.delays[0]).await;
    if attempt.is_recovery() {
        // Ask the bank whether an earlier attempt paid.
        process.step(plan.delays[1]).await;
        if plan.lookup_fails {
            sim.end_run(run, RunEnd::Err);
            return Err(declined());
        }
        if sim.has_transfer(&key) {
            sim.end_run(run, RunEnd::Ok);
            return Ok(());
        }
    }
    process.step(plan.delays[2]).await;
    match plan.ending {
        Ending::ErrBefore => {
            sim.end_run(run, RunEnd::Err);
            return Err(declined());
        }
        Ending::UnknownBefore => {
            sim.end_run(run, RunEnd::Unknown);
            return Err(unknown());
        }
        Ending::PanicBefore => {
            sim.end_run(run, RunEnd::Panic);
            std::panic::panic_any(SimPanic);
        }
        Ending::Ok | Ending::PanicAfter | Ending::UnknownAfter => {}
    }
    // No await between the last step (which found the process alive) and the transfer.
    sim.transfer(&key, &fingerprint, attempt.number(), process.generation);
    process.step(plan.delays[3]).await;
    match plan.ending {
        Ending::PanicAfter => {
            sim.end_run(run, RunEnd::Panic);
            std::panic::panic_any(SimPanic);
        }
        Ending::UnknownAfter => {
            sim.end_run(run, RunEnd::Unknown);
            Err(unknown())
        }
        _ => {
            sim.end_run(run, RunEnd::Ok);
            Ok(())
        }
    }
}

async fn cancellable<F: Future>(future: F, after: Option<Duration>) -> Option<F::Output> {
    match after {
        Some(after) => tokio::time::timeout(after, future).await.ok(),
        None => Some(future.await),
    }
}

/// One delivery to one process, answered unless its caller gives up or the process dies.
async fn deliver(
    sim: Arc<Sim>,
    process: Arc<Process>,
    idempotency: Idempotency,
    key: String,
    fingerprint: String,
    cancel_after: Option<Duration>,
) -> Answer {
    sim.note(|| {
        format!(
            "g{} deliver {key} fp={fingerprint:?} cancel_after={cancel_after:?}",
            process.generation
        )
    });
    sim.count(|s| s.deliveries += 1);
    let handler = {
        let (sim, process) = (Arc::clone(&sim), Arc::clone(&process));
        let (key, fingerprint) = (key.clone(), fingerprint.clone());
        move |attempt| pay(sim, process, key, fingerprint, attempt)
    };
    let run = idempotency.run(key.clone(), fingerprint.clone(), handler);
    tokio::select! {
        biased;
        () = process.died() => Answer::Crashed,
        result = cancellable(run, cancel_after) => {
            sim.answered(&key, &fingerprint, process.generation, result)
        }
    }
}

/// Runs the schedule's events, then heals.
async fn simulate(sim: Arc<Sim>) {
    let schedule = sim.schedule.clone();
    let lease = schedule.lease;
    let mut generation = 0;
    let (mut process, mut idempotency) = sim.start_process(generation);
    for (at, event) in schedule.events {
        tokio::time::sleep_until(sim.start + at).await;
        match event {
            Event::Deliver {
                key,
                changed,
                cancel_after,
            } => {
                let spec = &schedule.keys[key];
                let fingerprint = match changed {
                    Some(n) => format!("{} (changed {n})", spec.fingerprint),
                    None => spec.fingerprint.clone(),
                };
                tokio::spawn(deliver(
                    Arc::clone(&sim),
                    Arc::clone(&process),
                    idempotency.clone(),
                    spec.name.clone(),
                    fingerprint,
                    cancel_after,
                ));
            }
            Event::Crash => {
                process.kill();
                sim.count(|s| s.crashes += 1);
                sim.note(|| format!("CRASH g{generation}"));
                generation += 1;
                (process, idempotency) = sim.start_process(generation);
            }
            Event::ClockStep(step) => {
                sim.count(|s| s.clock_steps += 1);
                sim.note(|| format!("CLOCK STEP {step} ms"));
                match &sim.backend {
                    Backend::Memory(_) => tokio::time::advance(ms(step as u64)).await,
                    Backend::Sqlite(thread) => thread.shift(format!("{}%", schedule.prefix), -step),
                }
            }
            Event::ExpireLease(key) => {
                sim.count(|s| s.lease_expiries += 1);
                let name = schedule.keys[key].name.clone();
                sim.note(|| format!("EXPIRE LEASE {name}"));
                if let Backend::Sqlite(thread) = &sim.backend {
                    thread.shift(name, -(lease.as_millis() as i64));
                }
            }
        }
    }
    heal(&sim, &process, &idempotency).await;
}

/// Faults off, every lease past, every key delivered again until answered 2xx.
async fn heal(sim: &Arc<Sim>, process: &Arc<Process>, idempotency: &Idempotency) {
    sim.healing.store(true, Ordering::SeqCst);
    let lease = sim.lease();
    // Longer than any handler's plan (four delays of at most three leases) and any
    // store call still in flight: every live run records its outcome meanwhile.
    let settle = lease * 20 + Duration::from_secs(60);
    sim.note(|| "HEALING".into());
    tokio::time::sleep(settle).await;
    if let Backend::Sqlite(thread) = &sim.backend {
        // The database's clock passes the settling time too.
        let step = settle.as_millis() as i64;
        thread.shift(format!("{}%", sim.schedule.prefix), -step);
    }
    for spec in &sim.schedule.keys {
        // The content the key was first claimed with (the true one, unless a changed
        // delivery got there first).
        let fingerprint = sim
            .backend
            .record(&spec.name)
            .map_or_else(|| spec.fingerprint.clone(), |record| record.fingerprint);
        let mut settled = false;
        for _ in 0..HEALING_TRIES {
            let delivery = deliver(
                Arc::clone(sim),
                Arc::clone(process),
                idempotency.clone(),
                spec.name.clone(),
                fingerprint.clone(),
                None,
            );
            match tokio::time::timeout(lease * 20 + Duration::from_secs(60), delivery).await {
                Ok(Answer::Ran(_) | Answer::AlreadyDone(_)) => {
                    settled = true;
                    break;
                }
                Ok(Answer::Held) => {
                    // The operator looks the key up in the ledger and settles it.
                    let resolution = if sim.has_transfer(&spec.name) {
                        Resolution::Paid
                    } else {
                        Resolution::NotPaid
                    };
                    let settled = idempotency.resolve(&spec.name, resolution).await;
                    sim.count(|s| s.resolved_by_operator += 1);
                    sim.note(|| format!("OPERATOR {} {resolution:?}: {settled:?}", spec.name));
                }
                Ok(Answer::Busy) => {
                    tokio::time::sleep(lease + Duration::from_secs(1)).await;
                    if let Backend::Sqlite(thread) = &sim.backend {
                        thread.shift(spec.name.clone(), -(lease.as_millis() as i64));
                    }
                }
                Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(_) => {
                    sim.violation(format!("{}: a healing delivery never answered", spec.name))
                }
            }
        }
        if !settled {
            sim.violation(format!(
                "{}: no 2xx after {HEALING_TRIES} healing deliveries",
                spec.name
            ));
        }
    }
}

/// The invariants over the whole schedule (see the module docs).
fn check_invariants(sim: &Sim) {
    let records: Vec<(String, Option<Record>)> = sim
        .schedule
        .keys
        .iter()
        .map(|spec| (spec.name.clone(), sim.backend.record(&spec.name)))
        .collect();
    let world = sim.world();
    let (runs, transfers, first_fingerprint) = (
        world.runs.clone(),
        world.transfers.clone(),
        world.first_fingerprint.clone(),
    );
    drop(world);
    for (key, record) in records {
        let paid: Vec<&Transfer> = transfers.iter().filter(|t| t.key == key).collect();
        // A zombie's transfer is the documented limit of leases (see the module docs).
        let excused = !sim.strict && paid.iter().any(|t| t.zombie);
        // 4: every key ends done, and done means paid.
        match &record {
            Some(record) if record.state == State::Done => {
                if paid.is_empty() {
                    sim.violation(format!("{key}: done but never paid"));
                }
            }
            other => sim.violation(format!("{key}: not done after healing: {other:?}")),
        }
        // 1: paid at most once.
        if paid.len() > 1 {
            if excused {
                sim.count(|s| s.zombie_double_payments += 1);
            } else {
                let by: Vec<String> = paid
                    .iter()
                    .map(|t| {
                        let zombie = if t.zombie { " (zombie)" } else { "" };
                        format!("attempt {} of g{}{zombie}", t.attempt, t.generation)
                    })
                    .collect();
                sim.violation(format!(
                    "{key}: paid {} times, by {}; runs: {:?}",
                    paid.len(),
                    by.join(", "),
                    runs.iter().filter(|r| r.key == key).collect::<Vec<_>>()
                ));
            }
        }
        // 2: after the first Ok, only recoveries return Ok.
        let mut succeeded: Vec<&RunRecord> = runs
            .iter()
            .filter(|run| run.key == key && run.end == Some(RunEnd::Ok))
            .collect();
        succeeded.sort_by_key(|run| run.attempt);
        if let Some(plain) = succeeded.iter().skip(1).find(|run| !run.recovery) {
            if !excused {
                sim.violation(format!(
                    "{key}: attempt {} returned Ok as a plain attempt after attempt {} did",
                    plain.attempt, succeeded[0].attempt
                ));
            }
        }
        // The claim is atomic: one run per attempt number, each recovery following the
        // attempt before it, and none at all under `Hold`.
        let mut attempts: Vec<u32> = runs
            .iter()
            .filter(|run| run.key == key)
            .map(|run| run.attempt)
            .collect();
        attempts.sort_unstable();
        if attempts.windows(2).any(|pair| pair[0] == pair[1]) {
            sim.violation(format!("{key}: two runs as one attempt: {attempts:?}"));
        }
        for run in runs.iter().filter(|run| run.key == key) {
            if let Some(previous) = run.previous_attempt {
                if previous + 1 != run.attempt {
                    sim.violation(format!(
                        "{key}: attempt {} recovered from attempt {previous}",
                        run.attempt
                    ));
                }
                if sim.schedule.policy == RecoveryPolicy::Hold {
                    sim.violation(format!(
                        "{key}: attempt {} ran as a recovery under Hold",
                        run.attempt
                    ));
                }
            }
        }
        // 5: one fingerprint per key, the first claim's.
        if let Some(record) = &record {
            if first_fingerprint.get(&key) != Some(&record.fingerprint) {
                sim.violation(format!(
                    "{key}: recorded with {:?}, first claimed with {:?}",
                    record.fingerprint,
                    first_fingerprint.get(&key)
                ));
            }
            for run in runs.iter().filter(|run| run.key == key) {
                if run.fingerprint != record.fingerprint {
                    sim.violation(format!(
                        "{key}: a run saw fingerprint {:?}",
                        run.fingerprint
                    ));
                }
            }
            for transfer in &paid {
                if transfer.fingerprint != record.fingerprint {
                    sim.violation(format!("{key}: paid changed content: {transfer:?}"));
                }
            }
        }
    }
}

/// What one schedule came to.
struct Report {
    stats: Stats,
    violations: Vec<String>,
    trace: Vec<String>,
}

fn run_schedule(seed: u64, kind: Kind, sqlite: Option<&Arc<SqliteThread>>, trace: bool) -> Report {
    let schedule = Schedule::generate(seed, kind);
    let backend = match sqlite {
        Some(thread) => Backend::Sqlite(Arc::clone(thread)),
        None => Backend::Memory(Arc::new(MemoryStore::new())),
    };
    let strict = std::env::var("HOOKGUARD_SIM_STRICT").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let panics_before = UNEXPECTED_PANICS.with(Cell::get);
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let sim = Arc::new(Sim {
                backend,
                schedule,
                // The faults' and handlers' draws: another stream than the schedule's.
                rng: Mutex::new(Rng::new(seed ^ 0xA5A5_5A5A_F00D_CAFE)),
                healing: AtomicBool::new(false),
                strict,
                start: Instant::now(),
                world: Mutex::new(World {
                    trace: trace.then(Vec::new),
                    ..World::default()
                }),
            });
            sim.note(|| format!("{:?}", sim.schedule));
            simulate(Arc::clone(&sim)).await;
            check_invariants(&sim);
            let mut world = sim.world();
            world.stats.schedules = 1;
            Report {
                stats: world.stats.clone(),
                violations: std::mem::take(&mut world.violations),
                trace: world.trace.take().unwrap_or_default(),
            }
        })
    }));
    // Dropping the runtime drops the dead processes' tasks, pending forever.
    drop(runtime);
    let mut report = ran.unwrap_or_else(|panic| Report {
        stats: Stats {
            schedules: 1,
            ..Stats::default()
        },
        violations: vec![format!(
            "the simulation itself panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )],
        trace: Vec::new(),
    });
    if UNEXPECTED_PANICS.with(Cell::get) != panics_before {
        report
            .violations
            .push("a panic outside the handlers (printed above)".into());
    }
    report
}

// ---------------------------------------------------------------------------------------
// Batches.
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Panics on this thread other than the handlers' deliberate ones.
    static UNEXPECTED_PANICS: Cell<u64> = const { Cell::new(0) };
}

/// Keeps the handlers' deliberate panics quiet; every other panic still prints, and is
/// counted (a panic in a spawned task would otherwise go unnoticed).
fn quiet_simulated_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<SimPanic>() {
                UNEXPECTED_PANICS.with(|count| count.set(count.get() + 1));
                default(info);
            }
        }));
    });
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// The seeds of a batch: the one being replayed, or `count` from the batch's own stream.
fn seeds(stream: u64, count: u64) -> Vec<u64> {
    if let Some(seed) = env_number("HOOKGUARD_SIM_SEED") {
        return vec![seed];
    }
    let mut rng = Rng::new(stream);
    (0..count).map(|_| rng.next_u64()).collect()
}

fn run_batch(kind: Kind, test: &str, stream: u64, count: u64) -> Stats {
    quiet_simulated_panics();
    let replay = std::env::var("HOOKGUARD_SIM_SEED").is_ok();
    let seeds = seeds(stream, count);
    let sqlite = (kind == Kind::Sqlite).then(|| Arc::new(SqliteThread::start()));
    let started = std::time::Instant::now();
    let mut total = Stats::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        let report = run_schedule(seed, kind, sqlite.as_ref(), replay);
        if replay {
            for line in &report.trace {
                eprintln!("{line}");
            }
        }
        total.add(&report.stats);
        if !report.violations.is_empty() {
            failures.push((seed, report.violations));
        }
    }
    println!(
        "simulation {kind:?}: {} schedules in {:.1?}: {total}",
        seeds.len(),
        started.elapsed()
    );
    if !failures.is_empty() {
        let mut kinds = BTreeMap::<&str, usize>::new();
        for (_, violations) in &failures {
            let mut seen: Vec<&str> = violations.iter().map(|v| violation_kind(v)).collect();
            seen.sort_unstable();
            seen.dedup();
            for kind in seen {
                *kinds.entry(kind).or_default() += 1;
            }
        }
        eprintln!("failed schedules by invariant: {kinds:?}");
        for (seed, violations) in failures.iter().take(10) {
            eprintln!("schedule {seed} failed:");
            for violation in violations.iter().take(5) {
                eprintln!("  {violation}");
            }
            eprintln!(
                "  replay with HOOKGUARD_SIM_SEED={seed} cargo test --all-features \
                 --test simulation {test} -- --nocapture"
            );
        }
        panic!(
            "{} of {} {kind:?} schedules failed; replay with HOOKGUARD_SIM_SEED={} cargo test \
             --all-features --test simulation {test} -- --nocapture",
            failures.len(),
            seeds.len(),
            failures[0].0
        );
    }
    total
}

/// Which invariant a violation's text is about, for the batch's tally.
fn violation_kind(violation: &str) -> &'static str {
    let kinds = [
        (
            "after its claim was applied",
            "6: started on a claim taken over",
        ),
        ("paid 2 times", "1: paid twice"),
        (" times, by ", "1: paid twice"),
        ("as a plain attempt", "2: a second plain Ok"),
        ("2xx", "3: 2xx not done"),
        ("Ran {", "3: 2xx not done"),
        ("not done after healing", "4: not done"),
        ("healing deliver", "4: not done"),
        ("never paid", "4: done, never paid"),
        ("fingerprint", "5: fingerprint"),
        ("changed content", "5: fingerprint"),
        ("panic", "a panic"),
    ];
    kinds
        .iter()
        .find(|(text, _)| violation.contains(text))
        .map_or("other", |(_, kind)| kind)
}

/// The batch's counters show that the faults happened (so a pass is not vacuous).
fn assert_exercised(kind: Kind, stats: &Stats) {
    if std::env::var("HOOKGUARD_SIM_SEED").is_ok() || stats.schedules < 200 {
        return;
    }
    let mut exercised = vec![
        ("2xx answers", stats.answered_2xx),
        ("recoveries", stats.recoveries),
        ("lease takeovers", stats.lease_takeovers),
        ("crashes", stats.crashes),
        ("injected faults", stats.faults_injected),
        ("store errors", stats.store_errors),
        ("clock steps", stats.clock_steps),
        ("conflicts", stats.conflicts),
        ("held keys", stats.held),
        ("operator resolutions", stats.resolved_by_operator),
        ("handler errors", stats.handler_errors),
        ("unknown outcomes", stats.handler_unknown_outcomes),
        ("handler panics", stats.handler_panics),
        ("busy answers", stats.busy),
        ("cancelled callers", stats.cancelled_callers),
    ];
    match kind {
        // Rarer interleavings, which the memory store's larger batch reaches.
        Kind::Memory => exercised.push(("lost claims", stats.lost_claims)),
        Kind::Sqlite => exercised.push(("lease expiries", stats.lease_expiries)),
    }
    for (what, count) in exercised {
        assert!(
            count > 0,
            "{kind:?}: no {what} in {} schedules",
            stats.schedules
        );
    }
}

fn memory_count() -> u64 {
    env_number("HOOKGUARD_SIM_SCHEDULES").unwrap_or(10_000)
}

fn sqlite_count() -> u64 {
    env_number("HOOKGUARD_SIM_SQLITE_SCHEDULES").unwrap_or(memory_count() / 20)
}

#[test]
fn memory_store_schedules() {
    let stats = run_batch(
        Kind::Memory,
        "memory_store_schedules",
        0x6D65_6D6F_7279,
        memory_count(),
    );
    assert_exercised(Kind::Memory, &stats);
}

#[test]
fn sqlite_store_schedules() {
    let stats = run_batch(
        Kind::Sqlite,
        "sqlite_store_schedules",
        0x7371_6C69_7465,
        sqlite_count(),
    );
    assert_exercised(Kind::Sqlite, &stats);
}

/// The same seed, run twice, makes the same schedule: every store call, fault, run,
/// transfer and answer, at the same virtual instant.
#[test]
fn a_seed_replays_the_same_schedule() {
    quiet_simulated_panics();
    let mut rng = Rng::new(0x7265_706C_6179);
    for (kind, count) in [(Kind::Memory, 100), (Kind::Sqlite, 10)] {
        for _ in 0..count {
            let seed = rng.next_u64();
            let trace = || {
                // A fresh database each time: the same key names start from nothing.
                let sqlite = (kind == Kind::Sqlite).then(|| Arc::new(SqliteThread::start()));
                run_schedule(seed, kind, sqlite.as_ref(), true).trace
            };
            let (first, second) = (trace(), trace());
            assert!(
                first.len() > 10,
                "{kind:?} {seed}: a trace of {}",
                first.len()
            );
            if let Some(at) =
                (0..first.len().max(second.len())).find(|&i| first.get(i) != second.get(i))
            {
                panic!(
                    "{kind:?} schedule {seed} diverged at event {at}:\n  {:?}\n  {:?}",
                    first.get(at),
                    second.get(at)
                );
            }
        }
    }
}
