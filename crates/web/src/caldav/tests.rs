use super::props::{parse_sync_token, sync_token};
use super::*;

#[test]
fn paths_name_the_resources() {
    let t = |p| parse_target(p);
    assert_eq!(t("/dav"), Some(Target::Root));
    assert_eq!(t("/dav/"), Some(Target::Root));
    assert_eq!(
        t("/dav/principals/a@b.test/"),
        Some(Target::Principal("a@b.test".into()))
    );
    assert_eq!(
        t("/dav/calendars/a%40b.test"),
        Some(Target::Home("a@b.test".into()))
    );
    assert_eq!(
        t("/dav/calendars/a@b.test/work/"),
        Some(Target::Calendar("a@b.test".into(), "work".into()))
    );
    assert_eq!(
        t("/dav/calendars/a@b.test/work/x%20y.ics"),
        Some(Target::Object(
            "a@b.test".into(),
            "work".into(),
            "x y.ics".into()
        ))
    );
    for bad in [
        "/dav/calendars/a/w/x.ics/",
        "/dav/other/a/",
        "/dav/calendars//w/",
        "/dav/calendars/a/w/x/y",
        "/dav/calendars/a/%zz/",
        "/dav/calendars/a/%ff/",
        "/davx",
    ] {
        assert_eq!(t(bad), None, "{bad}");
    }
}

#[test]
fn sync_tokens_round_trip_and_strangers_do_not_parse() {
    assert_eq!(parse_sync_token(&sync_token(42)), Some(42));
    assert_eq!(parse_sync_token("https://postern/sync/x"), None);
    assert_eq!(parse_sync_token("urn:other:1"), None);
}

#[test]
fn conditional_headers_become_store_preconditions() {
    use postern_store::Precondition;
    let of = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        object::precondition(&h)
    };
    assert_eq!(of(&[]), Precondition::Any);
    assert_eq!(of(&[("if-none-match", "*")]), Precondition::MustNotExist);
    assert_eq!(of(&[("if-match", "*")]), Precondition::MustExist);
    assert_eq!(
        of(&[("if-match", " \"abc\", \"def\"")]),
        Precondition::EtagMatches("\"abc\"".into())
    );
    // If-None-Match with a tag says nothing about a write we can check.
    assert_eq!(of(&[("if-none-match", "\"abc\"")]), Precondition::Any);
}
