//! ENVELOPE, BODY and BODYSTRUCTURE in IMAP syntax (RFC 9051 §7.4.2,
//! §9 `envelope` and `body`), from the structure the message crate finds.

use postern_imap_proto::Data;
use postern_message::{Address, Body, Envelope, Extension};

pub(super) fn envelope(d: &mut Data, e: &Envelope) {
    d.open()
        .nstring(e.date.as_deref())
        .sp()
        .nstring(e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        d.sp();
        addresses(d, list);
    }
    d.sp()
        .nstring(e.in_reply_to.as_deref())
        .sp()
        .nstring(e.message_id.as_deref())
        .close();
}

fn addresses(d: &mut Data, list: &[Address]) {
    if list.is_empty() {
        d.nil();
        return;
    }
    d.open();
    for a in list {
        d.open()
            .nstring(a.name.as_deref())
            .raw(" NIL ")
            .nstring(a.mailbox.as_deref())
            .sp();
        d.nstring(a.host.as_deref()).close();
    }
    d.close();
}

/// `body` (RFC 9051 §9); with `ext`, the extension data of BODYSTRUCTURE.
pub(super) fn body(d: &mut Data, b: &Body, ext: bool) {
    d.open();
    match b {
        Body::Multi {
            parts,
            subtype,
            params,
            ext: e,
        } => {
            for p in parts {
                body(d, p, ext);
            }
            if parts.is_empty() {
                // RFC 9051 §9 needs one part at least.
                body(d, &Body::Single(Box::new(empty_text())), ext);
            }
            d.sp().string(subtype.as_bytes());
            if ext {
                d.sp();
                param_list(d, params);
                extension(d, e, false);
            }
        }
        Body::Single(s) => {
            d.string(s.ctype.as_bytes())
                .sp()
                .string(s.subtype.as_bytes())
                .sp();
            param_list(d, &s.params);
            d.sp()
                .nstring(s.id.as_deref())
                .sp()
                .nstring(s.description.as_deref());
            d.sp().string(s.encoding.as_bytes()).sp().num(s.size);
            if let Some((env, inner)) = &s.message {
                d.sp();
                envelope(d, env);
                d.sp();
                body(d, inner, ext);
            }
            if let Some(lines) = s.lines {
                d.sp().num(lines);
            }
            if ext {
                extension(d, &s.ext, true);
            }
        }
    }
    d.close();
}

fn empty_text() -> postern_message::Single {
    postern_message::Single {
        ctype: "TEXT".into(),
        subtype: "PLAIN".into(),
        params: Vec::new(),
        id: None,
        description: None,
        encoding: "7BIT".into(),
        size: 0,
        lines: Some(0),
        message: None,
        ext: Extension::default(),
    }
}

fn param_list(d: &mut Data, params: &[(String, String)]) {
    if params.is_empty() {
        d.nil();
        return;
    }
    d.open();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            d.sp();
        }
        d.string(k.as_bytes()).sp().string(v.as_bytes());
    }
    d.close();
}

/// `[md5] disposition language location`.
fn extension(d: &mut Data, e: &Extension, single: bool) {
    if single {
        d.sp().nstring(e.md5.as_deref());
    }
    d.sp();
    match &e.disposition {
        Some((kind, params)) => {
            d.open().string(kind.as_bytes()).sp();
            param_list(d, params);
            d.close();
        }
        None => {
            d.nil();
        }
    }
    d.sp();
    match e.language.as_slice() {
        [] => d.nil(),
        [one] => d.string(one),
        many => {
            d.open();
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    d.sp();
                }
                d.string(l);
            }
            d.close()
        }
    };
    d.sp().nstring(e.location.as_deref());
}
