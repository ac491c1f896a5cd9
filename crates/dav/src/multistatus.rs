//! The 207 Multi-Status body (RFC 4918 §13, §14.16) and the `error` body
//! of a failed precondition (RFC 4918 §16, RFC 4791 §1.3).

use crate::xml::escape;
use crate::{PropName, APPLE_ICAL, CALDAV, CALENDARSERVER, DAV};

/// A property value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No content (`<d:getetag/>` in a PROPFIND `propname` answer).
    Empty,
    /// Text, escaped on output (displayname, getetag, getctag, sync-token...).
    Text(String),
    /// One path, written as `<d:href>` (current-user-principal,
    /// calendar-home-set, owner...), percent-encoded segment by segment.
    Href(String),
    /// Several paths (calendar-user-address-set's `mailto:` URIs go as
    /// they are: only paths starting with `/` are encoded).
    Hrefs(Vec<String>),
    /// `DAV:resourcetype`: a collection, and a calendar or not.
    ResourceType {
        /// `<d:collection/>`.
        collection: bool,
        /// `<c:calendar/>`.
        calendar: bool,
        /// `<d:principal/>` (RFC 3744 §4): a user's principal resource.
        principal: bool,
    },
    /// `CALDAV:supported-calendar-component-set`: component names.
    ComponentSet(Vec<String>),
    /// `CALDAV:calendar-data`: the iCalendar text, escaped as XML text.
    CalendarData(String),
    /// `DAV:supported-report-set`: the reports, by name.
    ReportSet(Vec<PropName>),
    /// `DAV:current-user-privilege-set` (RFC 3744 §5.4): one
    /// `<d:privilege>` per entry.
    Privileges(Vec<Privilege>),
}

/// A privilege of RFC 3744 §3, all in the `DAV:` namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// §3.1: read the content and properties.
    Read,
    /// §3.2: aggregates write-properties, write-content, bind and unbind.
    Write,
    /// §3.3: PROPPATCH.
    WriteProperties,
    /// §3.4: replace the content (PUT on an existing resource).
    WriteContent,
    /// §3.5: unlock.
    Unlock,
    /// §3.6: read the ACL.
    ReadAcl,
    /// §3.7: read this very property.
    ReadCurrentUserPrivilegeSet,
    /// §3.8: change the ACL.
    WriteAcl,
    /// §3.9: add members to a collection.
    Bind,
    /// §3.10: remove members from a collection.
    Unbind,
    /// §3.11: every privilege.
    All,
}

impl Privilege {
    /// The element's local name in `DAV:`.
    pub const fn local(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::WriteProperties => "write-properties",
            Self::WriteContent => "write-content",
            Self::Unlock => "unlock",
            Self::ReadAcl => "read-acl",
            Self::ReadCurrentUserPrivilegeSet => "read-current-user-privilege-set",
            Self::WriteAcl => "write-acl",
            Self::Bind => "bind",
            Self::Unbind => "unbind",
            Self::All => "all",
        }
    }
}

/// One `DAV:response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    href: String,
    status: Option<u16>,
    propstats: Vec<Propstat>,
}

impl Response {
    /// A response with properties to come, for `href` (a decoded path).
    pub fn new(href: &str) -> Self {
        Self {
            href: href.to_owned(),
            status: None,
            propstats: Vec::new(),
        }
    }

    /// A response with a status and no property: 404 for a multiget href
    /// that names nothing (RFC 4791 §7.9), or a sync-collection removal.
    pub fn with_status(href: &str, status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::new(href)
        }
    }

    /// Adds a property found, with its value (200).
    pub fn found(&mut self, name: PropName, value: Value) -> &mut Self {
        self.prop_status(name, value, 200)
    }

    /// Adds a property that this resource does not have (404).
    pub fn not_found(&mut self, name: PropName) -> &mut Self {
        self.prop_status(name, Value::Empty, 404)
    }

    /// Adds a property under any status (e.g. 403 or 424 in a PROPPATCH
    /// answer, RFC 4918 §9.2.1); properties are grouped by status.
    pub fn prop_status(&mut self, name: PropName, value: Value, status: u16) -> &mut Self {
        add_prop(&mut self.propstats, name, value, status);
        self
    }

    fn write(&self, out: &mut String) {
        out.push_str("<d:response><d:href>");
        out.push_str(&escape(&encode_path(&self.href)));
        out.push_str("</d:href>");
        if let Some(status) = self.status {
            write_status(out, status);
        }
        write_propstats(out, &self.propstats, None);
        out.push_str("</d:response>");
    }
}

/// The properties in groups of one status, each group a `DAV:propstat`;
/// `description` goes into the groups of the properties at fault (not
/// 2xx, not 424, which only says another property failed).
fn write_propstats(out: &mut String, propstats: &[Propstat], description: Option<&str>) {
    for (status, props) in propstats {
        out.push_str("<d:propstat><d:prop>");
        for (name, value) in props {
            write_prop(out, name, value);
        }
        out.push_str("</d:prop>");
        write_status(out, *status);
        if let Some(d) = description.filter(|_| *status != 424 && !(200..300).contains(status)) {
            out.push_str("<d:responsedescription>");
            out.push_str(&escape(d));
            out.push_str("</d:responsedescription>");
        }
        out.push_str("</d:propstat>");
    }
}

/// Properties grouped under one status.
type Propstat = (u16, Vec<(PropName, Value)>);

fn add_prop(propstats: &mut Vec<Propstat>, name: PropName, value: Value, status: u16) {
    match propstats.iter_mut().find(|(s, _)| *s == status) {
        Some((_, props)) => props.push((name, value)),
        None => propstats.push((status, vec![(name, value)])),
    }
}

/// The `DAV:mkcol-response` body of an extended MKCOL (RFC 5689 §3.3,
/// §5.2): the status of each property the request set, with no href.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MkcolResponse {
    propstats: Vec<Propstat>,
    description: Option<String>,
}

impl MkcolResponse {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a property with its status: 403 for the one refused, 424
    /// (Failed Dependency) for the others (RFC 5689 §3).
    pub fn prop_status(&mut self, name: PropName, status: u16) -> &mut Self {
        add_prop(&mut self.propstats, name, Value::Empty, status);
        self
    }

    /// A text for people, written as `DAV:responsedescription` in each
    /// failed group (RFC 4918 §14.25).
    pub fn description(&mut self, text: &str) -> &mut Self {
        self.description = Some(text.to_owned());
        self
    }

    /// The XML body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:mkcol-response");
        declare_namespaces(&mut out);
        out.push('>');
        write_propstats(&mut out, &self.propstats, self.description.as_deref());
        out.push_str("</d:mkcol-response>\n");
        out.into_bytes()
    }
}

/// A 207 body being built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    responses: Vec<Response>,
    sync_token: Option<String>,
}

impl Multistatus {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a response.
    pub fn push(&mut self, response: Response) -> &mut Self {
        self.responses.push(response);
        self
    }

    /// Sets the `DAV:sync-token` a sync-collection answer ends with
    /// (RFC 6578 §6.4).
    pub fn sync_token(&mut self, token: &str) -> &mut Self {
        self.sync_token = Some(token.to_owned());
        self
    }

    /// The XML body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus");
        declare_namespaces(&mut out);
        out.push('>');
        for r in &self.responses {
            r.write(&mut out);
        }
        if let Some(token) = &self.sync_token {
            out.push_str("<d:sync-token>");
            out.push_str(&escape(token));
            out.push_str("</d:sync-token>");
        }
        out.push_str("</d:multistatus>\n");
        out.into_bytes()
    }
}

/// A precondition or postcondition that failed, for the `DAV:error` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// RFC 4791 §5.3.2.1: the UID is already used by the resource at this
    /// href (a decoded path).
    NoUidConflict(String),
    /// RFC 4791 §5.3.2.1: the body is not valid iCalendar.
    ValidCalendarData,
    /// RFC 4791 §5.3.2.1: not one component kind, several UIDs, METHOD...
    ValidCalendarObjectResource,
    /// RFC 4791 §5.3.2.1: a component kind the calendar does not take.
    SupportedCalendarComponent,
    /// RFC 4791 §5.3.2.1: the object is larger than max-resource-size.
    MaxResourceSize,
    /// RFC 4791 §7.5.1: an unsupported text-match collation.
    SupportedCollation,
    /// RFC 6578 §3.2: the sync-token is not one we gave out (or too old).
    ValidSyncToken,
    /// RFC 3253 §3.6: the REPORT is not supported on this resource.
    SupportedReport,
    /// RFC 4918 §16: MKCOL/MKCALENDAR on an existing resource.
    ResourceMustBeNull,
    /// RFC 4791 §5.3.1.1: MKCALENDAR where a calendar may not be.
    CalendarCollectionLocationOk,
    /// RFC 4918 §16: the answer would have more results than the limit.
    NumberOfMatchesWithinLimits,
    /// RFC 4918 §9.1: a Depth: infinity PROPFIND refused.
    PropfindFiniteDepth,
}

impl Condition {
    /// The `DAV:error` body for this condition.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error");
        declare_namespaces(&mut out);
        out.push('>');
        let (prefix, local) = self.name();
        match self {
            Self::NoUidConflict(href) => {
                out.push_str(&format!("<{prefix}:{local}><d:href>"));
                out.push_str(&escape(&encode_path(href)));
                out.push_str(&format!("</d:href></{prefix}:{local}>"));
            }
            _ => out.push_str(&format!("<{prefix}:{local}/>")),
        }
        out.push_str("</d:error>\n");
        out.into_bytes()
    }

    fn name(&self) -> (&'static str, &'static str) {
        match self {
            Self::NoUidConflict(_) => ("c", "no-uid-conflict"),
            Self::ValidCalendarData => ("c", "valid-calendar-data"),
            Self::ValidCalendarObjectResource => ("c", "valid-calendar-object-resource"),
            Self::SupportedCalendarComponent => ("c", "supported-calendar-component"),
            Self::MaxResourceSize => ("c", "max-resource-size"),
            Self::SupportedCollation => ("c", "supported-collation"),
            Self::ValidSyncToken => ("d", "valid-sync-token"),
            Self::SupportedReport => ("d", "supported-report"),
            Self::ResourceMustBeNull => ("d", "resource-must-be-null"),
            Self::CalendarCollectionLocationOk => ("c", "calendar-collection-location-ok"),
            Self::NumberOfMatchesWithinLimits => ("d", "number-of-matches-within-limits"),
            Self::PropfindFiniteDepth => ("d", "propfind-finite-depth"),
        }
    }
}

/// The prefixes every body declares once on its root.
const PREFIXES: [(&str, &str); 4] = [
    ("d", DAV),
    ("c", CALDAV),
    ("cs", CALENDARSERVER),
    ("ic", APPLE_ICAL),
];

fn declare_namespaces(out: &mut String) {
    for (prefix, ns) in PREFIXES {
        out.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
    }
}

fn write_status(out: &mut String, status: u16) {
    out.push_str(&format!(
        "<d:status>HTTP/1.1 {status} {}</d:status>",
        reason(status)
    ));
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        424 => "Failed Dependency",
        500 => "Internal Server Error",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// Writes `<name>value</name>`: a known namespace uses its prefix, any
/// other is declared on the element itself.
fn write_prop(out: &mut String, name: &PropName, value: &Value) {
    let (open, close) = match PREFIXES.iter().find(|(_, ns)| *ns == name.namespace) {
        Some((prefix, _)) => (
            format!("{prefix}:{}", name.local),
            format!("{prefix}:{}", name.local),
        ),
        // No namespace: no prefix may be bound to "" (Namespaces in XML
        // §3), and no default namespace is ever declared in our bodies,
        // so the bare name is in no namespace.
        None if name.namespace.is_empty() => (name.local.clone(), name.local.clone()),
        None => (
            format!("x:{} xmlns:x=\"{}\"", name.local, escape(&name.namespace)),
            format!("x:{}", name.local),
        ),
    };
    let inner = value_xml(value);
    if inner.is_empty() {
        out.push_str(&format!("<{open}/>"));
    } else {
        out.push_str(&format!("<{open}>{inner}</{close}>"));
    }
}

fn value_xml(value: &Value) -> String {
    match value {
        Value::Empty => String::new(),
        Value::Text(t) | Value::CalendarData(t) => escape(t),
        Value::Href(h) => href(h),
        Value::Hrefs(hs) => hs.iter().map(|h| href(h)).collect(),
        Value::ResourceType {
            collection,
            calendar,
            principal,
        } => {
            let mut s = String::new();
            if *collection {
                s.push_str("<d:collection/>");
            }
            if *principal {
                s.push_str("<d:principal/>");
            }
            if *calendar {
                s.push_str("<c:calendar/>");
            }
            s
        }
        Value::ComponentSet(names) => names
            .iter()
            .map(|n| format!("<c:comp name=\"{}\"/>", escape(n)))
            .collect(),
        Value::ReportSet(reports) => reports
            .iter()
            .map(|r| {
                let mut s = String::from("<d:supported-report><d:report>");
                write_prop(&mut s, r, &Value::Empty);
                s.push_str("</d:report></d:supported-report>");
                s
            })
            .collect(),
        Value::Privileges(privileges) => privileges
            .iter()
            .map(|p| format!("<d:privilege><d:{}/></d:privilege>", p.local()))
            .collect(),
    }
}

fn href(h: &str) -> String {
    let h = if h.starts_with('/') {
        encode_path(h)
    } else {
        h.to_owned()
    };
    format!("<d:href>{}</d:href>", escape(&h))
}

/// Percent-encodes each segment of a decoded path (RFC 3986 §3.3): only
/// unreserved characters, `@` and the `/` between segments stay as they
/// are, so a name with spaces, `%`, `#` or `?` makes a valid href.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn propfind_answer_groups_by_status() {
        let mut r = Response::new("/dav/calendars/alice@example.test/Work & play/");
        r.found(
            PropName::dav("resourcetype"),
            Value::ResourceType {
                collection: true,
                calendar: true,
                principal: false,
            },
        )
        .not_found(PropName::new("urn:x", "odd"))
        .not_found(PropName::new("", "bare"))
        .found(
            PropName::new(CALENDARSERVER, "getctag"),
            Value::Text("\"42\"".into()),
        )
        .found(
            PropName::caldav("supported-calendar-component-set"),
            Value::ComponentSet(vec!["VEVENT".into(), "VTODO".into()]),
        )
        .found(
            PropName::dav("current-user-principal"),
            Value::Href("/dav/principals/alice@example.test/".into()),
        )
        .found(
            PropName::dav("supported-report-set"),
            Value::ReportSet(vec![PropName::dav("sync-collection")]),
        );
        let mut ms = Multistatus::new();
        ms.push(r);
        let body = text(ms.to_bytes());
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\""));
        let expected = "<d:response><d:href>/dav/calendars/alice@example.test/Work%20%26%20play/</d:href>\
<d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><cs:getctag>&quot;42&quot;</cs:getctag>\
<c:supported-calendar-component-set><c:comp name=\"VEVENT\"/><c:comp name=\"VTODO\"/></c:supported-calendar-component-set>\
<d:current-user-principal><d:href>/dav/principals/alice@example.test/</d:href></d:current-user-principal>\
<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report></d:supported-report-set>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\
<d:propstat><d:prop><x:odd xmlns:x=\"urn:x\"/><bare/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>";
        assert!(body.contains(expected), "{body}");
        // Whatever we write, our own reader reads back, names and all.
        let root = crate::xml::parse(body.as_bytes()).unwrap().unwrap();
        let missing = &root.children[0].children[2].children[0];
        assert_eq!(missing.children[1].name, PropName::new("", "bare"));
    }

    #[test]
    fn multiget_and_sync_answers() {
        let mut ok = Response::new("/cal/a.ics");
        ok.found(PropName::dav("getetag"), Value::Text("\"e1\"".into()))
            .found(
                PropName::caldav("calendar-data"),
                Value::CalendarData("BEGIN:VCALENDAR\r\nSUMMARY:a<b&c\r\nEND:VCALENDAR\r\n".into()),
            );
        let mut ms = Multistatus::new();
        ms.push(ok)
            .push(Response::with_status("/cal/gone.ics", 404))
            .sync_token("http://postern.test/sync/7");
        let body = text(ms.to_bytes());
        assert!(body.contains("<c:calendar-data>BEGIN:VCALENDAR&#13;\nSUMMARY:a&lt;b&amp;c&#13;\nEND:VCALENDAR&#13;\n</c:calendar-data>"), "{body}");
        assert!(body.contains("<d:response><d:href>/cal/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"));
        assert!(body.ends_with(
            "<d:sync-token>http://postern.test/sync/7</d:sync-token></d:multistatus>\n"
        ));
        let root = crate::xml::parse(body.as_bytes()).unwrap().unwrap();
        let data = &root.children[0].children[1].children[0].children[1];
        assert_eq!(
            data.text, "BEGIN:VCALENDAR\r\nSUMMARY:a<b&c\r\nEND:VCALENDAR\r\n",
            "calendar-data reads back byte for byte"
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            text(Condition::NoUidConflict("/cal/my event.ics".into()).to_bytes()),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\" \
xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ic=\"http://apple.com/ns/ical/\">\
<c:no-uid-conflict><d:href>/cal/my%20event.ics</d:href></c:no-uid-conflict></d:error>\n"
        );
        assert!(
            text(Condition::ValidSyncToken.to_bytes()).contains("<d:valid-sync-token/></d:error>")
        );
        assert!(text(Condition::SupportedReport.to_bytes()).contains("<d:supported-report/>"));
        assert!(text(Condition::ValidCalendarData.to_bytes()).contains("<c:valid-calendar-data/>"));
    }

    #[test]
    fn privileges_are_elements() {
        let mut r = Response::new("/cal/");
        r.found(
            PropName::dav("current-user-privilege-set"),
            Value::Privileges(vec![
                Privilege::Read,
                Privilege::ReadCurrentUserPrivilegeSet,
            ]),
        )
        .found(
            PropName::dav("current-user-privilege-set"),
            Value::Privileges(vec![]),
        );
        let mut ms = Multistatus::new();
        ms.push(r);
        let body = text(ms.to_bytes());
        assert!(
            body.contains(
                "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege>\
<d:privilege><d:read-current-user-privilege-set/></d:privilege></d:current-user-privilege-set>\
<d:current-user-privilege-set/>"
            ),
            "{body}"
        );
        let root = crate::xml::parse(body.as_bytes()).unwrap().unwrap();
        let set = &root.children[0].children[1].children[0].children[0];
        assert_eq!(
            set.children[1].children[0].name,
            PropName::dav("read-current-user-privilege-set")
        );
    }

    #[test]
    fn mkcol_response_names_the_refused_property() {
        let mut m = MkcolResponse::new();
        m.prop_status(PropName::dav("resourcetype"), 403)
            .prop_status(PropName::dav("displayname"), 424)
            .description("only calendars <here>");
        let body = text(m.to_bytes());
        assert!(
            body.contains("<d:mkcol-response xmlns:d=\"DAV:\""),
            "{body}"
        );
        assert!(body.contains("<d:propstat><d:prop><d:resourcetype/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status>\
<d:responsedescription>only calendars &lt;here&gt;</d:responsedescription></d:propstat>\
<d:propstat><d:prop><d:displayname/></d:prop><d:status>HTTP/1.1 424 Failed Dependency</d:status>"), "{body}");
        assert!(body.ends_with("</d:mkcol-response>\n"));
        assert!(crate::xml::parse(body.as_bytes()).unwrap().is_some());
    }

    #[test]
    fn paths_are_encoded_by_segment() {
        assert_eq!(encode_path("/a b/c%d/é?#"), "/a%20b/c%25d/%C3%A9%3F%23");
        assert_eq!(encode_path("/u@x.test/~x_y-z."), "/u@x.test/~x_y-z.");
    }
}
