//! The typed parsers' fast path against their serde path: for any bytes, wherever the
//! scanner reads an event, serde reads the same one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(disagreement) = hookguard::testing::check_fast_path(data) {
        panic!("{disagreement}");
    }
});
