//! `DAV:current-user-privilege-set` (RFC 3744 §5.4): what the logged-in
//! user may do with a resource. Clients read it to decide whether a
//! calendar is writable; without it several treat every calendar as
//! read-only. A user only ever reaches their own resources (another
//! account's path is 404), so the set depends on the kind of resource
//! alone: what its methods allow.

use postern_dav::{Privilege, PropName, Value};

/// The kinds of resource, by what they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The root and the principal: read only (PROPPATCH is refused).
    ReadOnly,
    /// The calendar home: calendars are made (MKCALENDAR, MKCOL) and
    /// deleted in it; its own properties are not writable.
    Home,
    /// A calendar: members are added and removed (RFC 3744 §3.9-3.10
    /// bind, unbind), its properties set (PROPPATCH).
    Calendar,
    /// A calendar object: its content is replaced by PUT; it has no
    /// properties a client may set.
    Object,
}

impl Kind {
    /// The privileges (RFC 3744 §3). `read-current-user-privilege-set`
    /// (§3.7) is granted everywhere: the user is reading it.
    fn privileges(self) -> Vec<Privilege> {
        use Privilege::*;
        match self {
            Self::ReadOnly => vec![Read, ReadCurrentUserPrivilegeSet],
            Self::Home => vec![Read, Bind, Unbind, ReadCurrentUserPrivilegeSet],
            // §3.2: write contains write-properties, write-content, bind
            // and unbind; each is listed too, as clients test for any.
            Self::Calendar => vec![
                Read,
                Write,
                WriteProperties,
                WriteContent,
                Bind,
                Unbind,
                ReadCurrentUserPrivilegeSet,
            ],
            Self::Object => vec![Read, WriteContent, ReadCurrentUserPrivilegeSet],
        }
    }
}

/// The property's name.
pub(super) fn name() -> PropName {
    PropName::dav("current-user-privilege-set")
}

/// The property with its value for a resource of this kind.
pub(super) fn property(kind: Kind) -> (PropName, Value) {
    (name(), Value::Privileges(kind.privileges()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_dav::{Multistatus, Response};

    fn body(props: Vec<(PropName, Value)>) -> String {
        let mut r = Response::new("/dav/calendars/a@b.test/work/");
        for (n, v) in props {
            r.found(n, v);
        }
        let mut ms = Multistatus::new();
        ms.push(r);
        String::from_utf8(ms.to_bytes()).unwrap()
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
    }

    #[test]
    fn read_only_resources_grant_no_write() {
        let text = body(vec![property(Kind::ReadOnly)]);
        assert!(text.contains("<d:privilege><d:read/></d:privilege>"));
        assert!(!text.contains("write"), "{text}");
    }

    #[test]
    fn objects_and_homes_grant_what_their_methods_allow() {
        let object = body(vec![property(Kind::Object)]);
        assert!(object.contains("<d:privilege><d:write-content/></d:privilege>"));
        assert!(!object.contains("<d:bind/>"), "{object}");
        let home = body(vec![property(Kind::Home)]);
        assert!(home.contains("<d:privilege><d:bind/></d:privilege>"));
        assert!(!home.contains("write"), "{home}");
    }
}
