//! claimr bodies: any bytes give an event or a parse error, never a panic; an event's
//! kind agrees with its name, and it serializes back.
#![no_main]

use hookguard::claimr::{Event, EventKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_slice(data) else {
        return;
    };
    assert!(
        std::str::from_utf8(data).is_ok(),
        "accepted a body that is not UTF-8"
    );
    assert_eq!(EventKind::from_name(event.name()), event.kind());
    assert_eq!(event.is_unknown(), event.kind() == EventKind::Unknown);
    assert_eq!(event.payload().is_some(), !event.is_unknown());
    let _ = event.id();
    serde_json::to_vec(&event).expect("an event serializes");
});
