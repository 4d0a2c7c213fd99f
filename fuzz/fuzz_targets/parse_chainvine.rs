//! ChainVine bodies: any bytes give an event or a parse error, never a panic, with the
//! default event names and with a renamed payment request; amounts are exact decimals.
#![no_main]

use hookguard::chainvine::{Event, EventKind, EventNames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let renamed = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
    for parsed in [
        Event::from_slice(data),
        Event::from_slice_with(data, &renamed),
    ] {
        let Ok(event) = parsed else {
            continue;
        };
        assert!(
            std::str::from_utf8(data).is_ok(),
            "accepted a body that is not UTF-8"
        );
        let kind = event.kind();
        match EventKind::from_name(event.name()) {
            EventKind::Unknown => assert!(matches!(
                kind,
                EventKind::Unknown | EventKind::PaymentRequest
            )),
            named => assert_eq!(named, kind),
        }
        assert_eq!(
            event.payment_request().is_some(),
            kind == EventKind::PaymentRequest
        );
        if let Some(amount) = event.payment_request().and_then(|r| r.amount()) {
            let text = amount.as_str();
            assert!(text.parse::<hookguard::amount::Amount>().is_ok(), "{text}");
        }
        let _ = event.id();
        serde_json::to_vec(&event).expect("an event serializes");
    }
});
