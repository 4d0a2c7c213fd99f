//! Standard Webhooks bodies: any bytes give an event or a parse error, never a panic; an
//! accepted body is UTF-8, keeps its id, and names itself by its `type`.
#![no_main]

use hookguard::standard::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_parts("msg_fuzz", data) else {
        return;
    };
    assert!(
        std::str::from_utf8(data).is_ok(),
        "accepted a body that is not UTF-8"
    );
    assert_eq!(event.id(), "msg_fuzz");
    assert_eq!(event.name(), event.event_type().unwrap_or(""));
    assert_eq!(event.is_unknown(), event.event_type().is_none());
    let _ = event.data();
    let _ = event.timestamp();
    assert!(!event.raw().get().is_empty());
});
