//! Invitations by mail (`postern_dav::imip`): the input is a received
//! scheduling message.
//!
//! Invariants, on every input:
//! - `read` accepts only one UID of 1 to 255 octets and an organizer with
//!   an address, and lists each attendee once;
//! - for an accepted REQUEST and each of its attendees: the REPLY built
//!   reads back as a REPLY of the same UID and SEQUENCE naming that
//!   attendee alone, with the answer given; the attendee's copy (unless
//!   over the size limit once written) is a stored object (no METHOD) of
//!   the same UID; applied to that copy, the reply is refused when
//!   another address sent it;
//! - the organizer's plan for that copy sends only to attendees, never
//!   to the organizer, and every message it builds reads back with the
//!   method it claims.

use postern_dav::ical::MAX_UID;
use postern_dav::imip::{self, ImipError, Method, PartStat};

use super::Target;

pub(super) const TARGET: Target = Target {
    name: "dav_imip",
    about: "iMIP scheduling messages: read, REPLY, the attendee's copy, the organizer's plan",
    run: target,
    seeds,
};

fn target(input: &[u8]) {
    let Ok(msg) = imip::read(input) else {
        return;
    };
    assert!(!msg.uid.is_empty() && msg.uid.len() <= MAX_UID);
    assert!(msg.organizer.address.contains('@'));
    for (i, a) in msg.attendees.iter().enumerate() {
        let twice = msg.attendees[i + 1..]
            .iter()
            .any(|b| b.address.eq_ignore_ascii_case(&a.address));
        assert!(!twice, "{} listed twice", a.address);
    }
    if msg.method != Method::Request {
        return;
    }
    for a in &msg.attendees {
        answer(input, &msg, &a.address);
    }
}

fn answer(input: &[u8], msg: &imip::Scheduling, who: &str) {
    let Ok(reply) = imip::reply(input, who, PartStat::Tentative, 1_800_000_000) else {
        return;
    };
    let back = imip::read(reply.as_bytes()).expect("our REPLY reads back");
    assert_eq!(back.method, Method::Reply);
    assert_eq!(back.uid, msg.uid);
    assert_eq!(back.sequence, msg.sequence);
    assert_eq!(back.attendees.len(), 1, "{reply}");
    assert!(back.attendees[0].address.eq_ignore_ascii_case(who));
    assert_eq!(back.attendees[0].partstat, PartStat::Tentative);

    // Invited, so a copy, unless written out it grows past the limit.
    let copy = match imip::attendee_copy(input, who, PartStat::NeedsAction) {
        Ok(c) => c,
        Err(ImipError::TooLarge) => return,
        Err(e) => panic!("no copy for an attendee: {e}"),
    };
    let stored = imip::read_stored(copy.as_bytes()).expect("the copy is a stored object");
    assert_eq!(stored.uid, msg.uid);
    let forger = "forger@fuzz.invalid";
    if !msg
        .attendees
        .iter()
        .any(|a| a.address.eq_ignore_ascii_case(forger))
    {
        assert!(imip::apply_reply(copy.as_bytes(), reply.as_bytes(), forger).is_err());
    }

    let own = [msg.organizer.address.clone()];
    let Ok(plan) = imip::plan(None, Some(copy.as_bytes()), &own, 1_800_000_000) else {
        return;
    };
    for out in plan {
        let sent = imip::read(out.ical.as_bytes()).expect("our message reads back");
        assert_eq!(sent.method, out.method);
        for r in &out.recipients {
            assert!(!r.eq_ignore_ascii_case(&msg.organizer.address));
            assert!(stored
                .attendees
                .iter()
                .any(|a| a.address.eq_ignore_ascii_case(r)));
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let request = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//seed//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:seed-1@example.test\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:2\r\n\
DTSTART;TZID=Europe/Berlin:20261201T100000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
SUMMARY:Planning\r\nLOCATION:Room 4\r\nORGANIZER;CN=\"Alice, A.\":mailto:alice@example.test\r\n\
ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.test\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:Carol@Example.test\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:seed-1@example.test\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:2\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261208T100000\r\nDTSTART;TZID=Europe/Berlin:20261208T120000\r\n\
DURATION:PT1H\r\nSUMMARY:Planning (moved)\r\nORGANIZER:mailto:alice@example.test\r\n\
ATTENDEE:mailto:bob@example.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let reply = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:r@x\r\n\
DTSTAMP:20261101T000000Z\r\nORGANIZER:mailto:a@x.test\r\nATTENDEE;PARTSTAT=DECLINED:mailto:b@x.test\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";
    let cancel = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:CANCEL\r\nBEGIN:VTODO\r\nUID:t@x\r\n\
DTSTAMP:20261101T000000Z\r\nSEQUENCE:1\r\nSTATUS:CANCELLED\r\nDUE;VALUE=DATE:20261201\r\n\
ORGANIZER:mailto:a@x.test\r\nATTENDEE:mailto:b@x.test\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    [request, reply, cancel]
        .map(|s| s.as_bytes().to_vec())
        .to_vec()
}
