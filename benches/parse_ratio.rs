//! Typed parse against serde_json's `IgnoredAny` scan of the same bytes, timed in
//! alternating blocks, so that the ratio is not moved by the machine's speed changing
//! between two benchmarks run one after the other (criterion's `parse` group measures
//! each for seconds, and on a shared machine the two can land at different speeds).
//!
//! ```text
//! cargo bench --all-features --bench parse_ratio
//! ```
//!
//! For each fixture: 401 rounds, each timing a block of typed parses and a block of
//! scans back to back (which comes first alternates), about 0.1 ms per block. It prints
//! one line per fixture: the median time of each, the median of the rounds' ratios and
//! their 10th and 90th percentiles.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookguard::{chainvine, claimr};

/// Rounds per fixture; odd, so that the median is one round's.
const ROUNDS: usize = 401;

/// Parses per block.
const BLOCK: u32 = 64;

/// The body as hyper hands it over: a slice of a reference-counted buffer.
fn shared(body: &[u8]) -> Bytes {
    let mut buffer = bytes::BytesMut::from(body);
    buffer.split().freeze()
}

/// The time of one block of `run`, per call.
fn block(run: &mut impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..BLOCK {
        run();
    }
    started.elapsed() / BLOCK
}

/// The value at `quantile` (0 to 1) of `values`, sorted in place.
fn quantile(values: &mut [f64], quantile: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * quantile).round() as usize;
    values[at]
}

fn compare(name: &str, mut typed: impl FnMut(), mut scan: impl FnMut()) {
    // Warm up both, caches and branch predictors included.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        block(&mut typed);
        block(&mut scan);
    }
    let (mut typed_ns, mut scan_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (t, s) = if round % 2 == 0 {
            let t = block(&mut typed);
            (t, block(&mut scan))
        } else {
            let s = block(&mut scan);
            (block(&mut typed), s)
        };
        let (t, s) = (t.as_secs_f64() * 1e9, s.as_secs_f64() * 1e9);
        typed_ns.push(t);
        scan_ns.push(s);
        ratios.push(t / s);
    }
    println!(
        "{name:<40} typed {:>8.1} ns  scan {:>8.1} ns  ratio {:.3} (p10 {:.3}, p90 {:.3})",
        quantile(&mut typed_ns, 0.5),
        quantile(&mut scan_ns, 0.5),
        quantile(&mut ratios, 0.5),
        quantile(&mut ratios, 0.1),
        quantile(&mut ratios, 0.9),
    );
}

/// `parse` of `body` as the layer parses it (a shared buffer) against the scan of the
/// same bytes.
fn compare_parse<E, Error>(name: &str, body: &[u8], parse: impl Fn(Bytes) -> Result<E, Error>) {
    let shared = shared(body);
    assert!(parse(shared.clone()).is_ok(), "{name} parses");
    compare(
        name,
        || {
            black_box(parse(black_box(shared.clone()))).ok();
        },
        || {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
                body,
            )))
            .ok();
        },
    );
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: nothing to time.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    compare_parse(
        "claimr/user_activity_realistic",
        include_bytes!("../tests/fixtures/claimr/user_activity_realistic.json"),
        claimr::Event::from_bytes,
    );
    for (name, body) in [
        (
            "chainvine/payment_request",
            &include_bytes!("../tests/fixtures/chainvine/payment_request.json")[..],
        ),
        (
            "chainvine/earning_created",
            include_bytes!("../tests/fixtures/chainvine/earning_created.json"),
        ),
        // An EARNING_CREATED whose keys are in another order, `data` before `name`.
        (
            "chainvine/data_before_name",
            include_bytes!("../tests/fixtures/chainvine/data_before_name.json"),
        ),
    ] {
        compare_parse(name, body, chainvine::Event::from_bytes);
    }
    // As most senders write it: no whitespace between tokens, the fields in their order.
    let compact = compact(include_bytes!(
        "../tests/fixtures/chainvine/payment_request.json"
    ));
    compare_parse(
        "chainvine/payment_request (compact)",
        &compact,
        chainvine::Event::from_bytes,
    );
}

/// `json` without the whitespace between its tokens (its strings have no escaped quote).
fn compact(json: &[u8]) -> Vec<u8> {
    let mut in_string = false;
    json.iter()
        .copied()
        .filter(|&byte| {
            in_string ^= byte == b'"';
            in_string || byte == b'"' || !byte.is_ascii_whitespace()
        })
        .collect()
}
