//! ChainVine bodies: any bytes give an envelope or a parse error, never a panic, with the
//! default event names and with a renamed payment request; amounts are exact decimals.
#![no_main]

use hookguard::chainvine::{Envelope, EventKind, EventNames};
use hookguard::WebhookEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let renamed = EventNames::default().with_payment_request("PAYOUT_REQUESTED");
    for parsed in [
        Envelope::from_slice(data),
        Envelope::from_slice_with(data, &renamed),
    ] {
        let Ok(envelope) = parsed else {
            continue;
        };
        assert!(
            std::str::from_utf8(data).is_ok(),
            "accepted a body that is not UTF-8"
        );
        let kind = envelope.kind();
        match EventKind::from_name(envelope.name()) {
            EventKind::Unknown => assert!(matches!(
                kind,
                EventKind::Unknown | EventKind::PaymentRequest
            )),
            named => assert_eq!(named, kind),
        }
        assert_eq!(
            envelope.payment_request().is_some(),
            kind == EventKind::PaymentRequest
        );
        if let Some(amount) = envelope.payment_request().and_then(|r| r.amount.as_ref()) {
            let text = amount.as_str();
            assert!(text.parse::<hookguard::amount::Amount>().is_ok(), "{text}");
        }
        let _ = envelope.id();
        serde_json::to_vec(&envelope).expect("an envelope serializes");
    }
});
