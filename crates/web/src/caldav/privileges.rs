//! `DAV:current-user-privilege-set` (RFC 3744 §5.4): what the logged-in
//! user may do with a resource. Clients read it to decide whether a
//! calendar is writable; without it several treat every calendar as
//! read-only. A user only ever reaches their own resources (another
//! account's path is 404), so the set depends on the kind of resource
//! alone: what its methods allow.
//!
//! The multistatus writer has no value for a list of privilege elements,
//! so the property is written as a stand-in text naming the kind, and
//! [`to_bytes`] puts the privilege elements in its place. The stand-in
//! is matched with its enclosing element tags: any text a client stored
//! (a display name, a description) is escaped by the writer, so its `<`
//! can never form those tags.

use postern_dav::{Multistatus, PropName, Value};

/// The kinds of resource, by what they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The root and the principal: read only (PROPPATCH is refused).
    ReadOnly,
    /// The calendar home: calendars are made (MKCALENDAR) and deleted
    /// in it; its own properties are not writable.
    Home,
    /// A calendar: members are added and removed (RFC 3744 §3.9-3.10
    /// bind, unbind), its properties set (PROPPATCH).
    Calendar,
    /// A calendar object: its content is replaced by PUT; it has no
    /// properties a client may set.
    Object,
}

impl Kind {
    /// The stand-in text the writer puts in the property.
    const fn mark(self) -> &'static str {
        match self {
            Self::ReadOnly => "postern-privileges:read-only",
            Self::Home => "postern-privileges:home",
            Self::Calendar => "postern-privileges:calendar",
            Self::Object => "postern-privileges:object",
        }
    }

    /// The privileges (RFC 3744 §3), local names in `DAV:`.
    /// `read-current-user-privilege-set` (§3.7) is granted everywhere:
    /// the user is reading it.
    const fn privileges(self) -> &'static [&'static str] {
        match self {
            Self::ReadOnly => &["read", "read-current-user-privilege-set"],
            Self::Home => &["read", "bind", "unbind", "read-current-user-privilege-set"],
            // §3.2: write contains write-properties, write-content, bind
            // and unbind; each is listed too, as clients test for any.
            Self::Calendar => &[
                "read",
                "write",
                "write-properties",
                "write-content",
                "bind",
                "unbind",
                "read-current-user-privilege-set",
            ],
            Self::Object => &["read", "write-content", "read-current-user-privilege-set"],
        }
    }

    const ALL: [Self; 4] = [Self::ReadOnly, Self::Home, Self::Calendar, Self::Object];
}

/// The property's name.
pub(super) fn name() -> PropName {
    PropName::dav("current-user-privilege-set")
}

/// The property as the writer takes it; [`to_bytes`] completes it.
pub(super) fn property(kind: Kind) -> (PropName, Value) {
    (name(), Value::Text(kind.mark().to_owned()))
}

/// The 207 body, with each privilege set in place of its stand-in.
pub(super) fn to_bytes(ms: &Multistatus) -> Vec<u8> {
    // The writer only produces UTF-8, so nothing is lost here.
    let mut text = String::from_utf8_lossy(&ms.to_bytes()).into_owned();
    for kind in Kind::ALL {
        let written = format!(
            "<d:current-user-privilege-set>{}</d:current-user-privilege-set>",
            kind.mark()
        );
        if text.contains(&written) {
            text = text.replace(&written, &element(kind));
        }
    }
    text.into_bytes()
}

/// `<d:current-user-privilege-set>` with one `<d:privilege>` per
/// privilege (RFC 3744 §5.4).
fn element(kind: Kind) -> String {
    let mut out = String::from("<d:current-user-privilege-set>");
    for p in kind.privileges() {
        out.push_str("<d:privilege><d:");
        out.push_str(p);
        out.push_str("/></d:privilege>");
    }
    out.push_str("</d:current-user-privilege-set>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_dav::Response;

    fn body(props: Vec<(PropName, Value)>) -> String {
        let mut r = Response::new("/dav/calendars/a@b.test/work/");
        for (n, v) in props {
            r.found(n, v);
        }
        let mut ms = Multistatus::new();
        ms.push(r);
        String::from_utf8(to_bytes(&ms)).unwrap()
    }

    #[test]
    fn a_calendar_says_it_is_writable() {
        let text = body(vec![property(Kind::Calendar)]);
        for p in ["read", "write", "write-content", "bind", "unbind"] {
            assert!(
                text.contains(&format!("<d:privilege><d:{p}/></d:privilege>")),
                "{p} missing: {text}"
            );
        }
        assert!(!text.contains("postern-privileges"), "{text}");
    }

    #[test]
    fn read_only_resources_grant_no_write() {
        let text = body(vec![property(Kind::ReadOnly)]);
        assert!(text.contains("<d:privilege><d:read/></d:privilege>"));
        assert!(!text.contains("write"), "{text}");
    }

    #[test]
    fn client_text_that_looks_like_the_stand_in_stays_text() {
        // A display name a client set to the stand-in, tags included:
        // escaped by the writer, it is not replaced.
        let sneaky = format!(
            "<d:current-user-privilege-set>{}</d:current-user-privilege-set>",
            Kind::Calendar.mark()
        );
        let text = body(vec![(PropName::dav("displayname"), Value::Text(sneaky))]);
        assert!(!text.contains("<d:privilege>"), "{text}");
    }
}
