//! The fast path of a claimr parse: the payload read in one pass by the JSON scanner, its
//! strings shared with the body. Whatever it declines, [`de`](super::de) reads with serde,
//! which also gives a bad body's error with its path.

use super::payload::{ActionSpans, CampaignSpans, DataSpans, EventSpans};
use super::{Event, Payload};
use crate::event::{ByteString, RawJson};
use crate::json::scan::{Name, Reader, Span, Text};

/// The event of `body`, or the body back when the scanner declines it.
pub(super) fn event(body: ByteString) -> Result<Event, ByteString> {
    let Some(reader) = Reader::new(&body) else {
        return Err(body);
    };
    let Some((mut payload, reader)) = read(reader) else {
        return Err(body);
    };
    let decoded = reader.into_decoded();
    payload.text = Text::read(body, decoded);
    Ok(Event::of_payload(payload, |payload| {
        raw_body(payload.text.scanned_body())
    }))
}

/// The whole body, which has been read as one JSON value, as a [`RawJson`] less the
/// whitespace around it.
pub(super) fn raw_body(body: &ByteString) -> RawJson {
    RawJson::from_checked(body.slice_ref(body.trim_matches(is_whitespace)))
}

/// The payload and the reader past it, at the end of the body.
fn read(mut reader: Reader<'_>) -> Option<(Payload, Reader<'_>)> {
    let payload = payload(&mut reader)?;
    reader.end()?;
    Some((payload, reader))
}

/// JSON's whitespace, which is all a body has around its value once scanned.
fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\r' | '\t')
}

/// The payload's fields, in the order claimr sends them.
const PAYLOAD: [Name; 14] = Name::all([
    "id", "scope", "user", "user_id", "wallet", "email", "campaign", "event", "total_xp", "ref_xp",
    "ugc_xp", "xp_mul", "rank", "team",
]);
const CAMPAIGN: [Name; 2] = Name::all(["id", "name"]);
const EVENT: [Name; 2] = Name::all(["type", "data"]);
const DATA: [Name; 3] = Name::all(["account", "action", "xp"]);
const ACTION: [Name; 4] = Name::all(["id", "name", "type", "meta"]);

fn payload(reader: &mut Reader<'_>) -> Option<Payload> {
    let (mut id, mut scope) = (None, None);
    let mut payload = Payload {
        text: Text::default(),
        id: Span::default(),
        scope: Span::default(),
        user: None,
        user_id: None,
        wallet: None,
        email: None,
        campaign: None,
        event: None,
        total_xp: None,
        ref_xp: None,
        ugc_xp: None,
        xp_mul: None,
        rank: None,
        team: None,
    };
    reader.fields(&PAYLOAD, |r, field| {
        match field {
            0 => id = Some(r.id()?),
            1 => scope = Some(r.text()?),
            2 => payload.user = r.nullable(Reader::id)?,
            3 => payload.user_id = r.nullable(Reader::id)?,
            4 => payload.wallet = r.nullable(Reader::text)?,
            5 => payload.email = r.nullable(Reader::text)?,
            6 => payload.campaign = r.nullable(campaign)?,
            7 => payload.event = r.nullable(activity_event)?,
            8 => payload.total_xp = r.nullable(Reader::float)?,
            9 => payload.ref_xp = r.nullable(Reader::float)?,
            10 => payload.ugc_xp = r.nullable(Reader::float)?,
            11 => payload.xp_mul = r.nullable(Reader::float)?,
            12 => payload.rank = r.nullable(Reader::unsigned)?,
            13 => payload.team = r.nullable(Reader::text)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    payload.id = id?;
    payload.scope = scope?;
    Some(payload)
}

fn campaign(reader: &mut Reader<'_>) -> Option<CampaignSpans> {
    let (mut id, mut name) = (None, None);
    reader.fields(&CAMPAIGN, |r, field| {
        match field {
            0 => id = Some(r.id()?),
            1 => name = r.nullable(Reader::text)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(CampaignSpans { id: id?, name })
}

fn activity_event(reader: &mut Reader<'_>) -> Option<EventSpans> {
    let mut event = EventSpans::default();
    reader.fields(&EVENT, |r, field| {
        match field {
            0 => event.kind = r.nullable(Reader::text)?,
            1 => event.data = r.nullable(activity_data)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(event)
}

fn activity_data(reader: &mut Reader<'_>) -> Option<DataSpans> {
    let mut data = DataSpans::default();
    reader.fields(&DATA, |r, field| {
        match field {
            0 => data.account = r.nullable(Reader::id)?,
            1 => data.action = r.nullable(action)?,
            2 => data.xp = r.nullable(Reader::float)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(data)
}

fn action(reader: &mut Reader<'_>) -> Option<ActionSpans> {
    let mut action = ActionSpans::default();
    reader.fields(&ACTION, |r, field| {
        match field {
            0 => action.id = r.nullable(Reader::id)?,
            1 => action.name = r.nullable(Reader::text)?,
            2 => action.kind = r.nullable(Reader::text)?,
            3 => action.meta = r.nullable(Reader::raw)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(action)
}

/// Whether the fast path agrees with the serde path on `body`: where the scanner reads an
/// event, serde reads the same one. `Err` describes a disagreement.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn agrees(body: &[u8]) -> Result<(), String> {
    let Ok(text) = crate::json::text(bytes::Bytes::copy_from_slice(body)) else {
        return Ok(());
    };
    let Ok(fast) = event(text.clone()) else {
        return Ok(());
    };
    match Event::from_text(&text) {
        Ok(slow) if format!("{slow:?}") == format!("{fast:?}") => Ok(()),
        slow => Err(format!("scanner read {fast:?}, serde {slow:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODIES: [&[u8]; 4] = [
        include_bytes!("../../../tests/fixtures/claimr/user_activity.json"),
        include_bytes!("../../../tests/fixtures/claimr/user_activity_realistic.json"),
        include_bytes!("../../../tests/fixtures/claimr/user_login.json"),
        include_bytes!("../../../tests/fixtures/claimr/unknown_scope.json"),
    ];

    #[test]
    fn the_fixtures_take_the_fast_path() {
        // The last has an unknown scope and a `campaign` of another shape: serde's.
        for body in &BODIES[..3] {
            let text = crate::json::text(bytes::Bytes::from_static(body)).unwrap();
            assert!(event(text).is_ok(), "{}", String::from_utf8_lossy(body));
            assert!(
                event(crate::json::text(bytes::Bytes::from_static(BODIES[3])).unwrap()).is_err()
            );
            agrees(body).unwrap();
        }
    }

    /// Every body one edit away from a fixture: the scanner reads what serde reads, or
    /// declines.
    #[test]
    fn edits_of_the_fixtures_are_read_as_serde_reads_them() {
        const INSERTS: [&[u8]; 14] = [
            b"\"", b"\\", b",", b"}", b"]", b"{", b"[", b"1", b"-", b".5", b"e3", b"null",
            b"\\u00e9", b" ",
        ];
        let mut checked = 0;
        for body in BODIES {
            for at in 0..body.len() {
                let mut deleted = body.to_vec();
                deleted.remove(at);
                agrees(&deleted).unwrap();
                for insert in INSERTS {
                    let mut edited = body[..at].to_vec();
                    edited.extend_from_slice(insert);
                    edited.extend_from_slice(&body[at..]);
                    agrees(&edited).unwrap();
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
    }
}
