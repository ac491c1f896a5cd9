#!/usr/bin/env python3
"""CalDAV (RFC 4791) with the Python `caldav` library against the built
`postern` binary, with the library's defaults (its first request goes
without credentials): discovery from the bare server URL (redirected as
/.well-known/caldav is, RFC 6764 §5), the principal and its calendar home, MKCALENDAR, PUT of a recurring and
a one-off event, a calendar-query time-range REPORT (RFC 4791 §9.9),
load, change (new ETag) and delete of an event, sync-collection (RFC
6578), and one account kept out of another's calendars.

Locally:
    cargo build -p postern && python3 tests/interop/caldav_clients.py
POSTERN_BIN overrides the binary (default target/debug/postern). The
`caldav` package comes from PyPI (`python3 -m pip install caldav`); CI
installs it, so under CI=true a missing package is a failure.
"""
import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import DOMAIN, PASSWORD, Postern  # noqa: E402

try:
    import caldav
    from caldav.elements import dav
    from caldav.lib import error as caldav_error
except ImportError:
    caldav = None

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
DEV_HTTPS = 8443
UTC = datetime.timezone.utc

# Mondays at 10:00 UTC from 5 January 2026, ten of them (the last on 9
# March), the one on 12 January taken out by EXDATE (RFC 5545 §3.8.5.1).
WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//caldav//EN
BEGIN:VEVENT
UID:weekly@example.test
DTSTAMP:20260101T000000Z
DTSTART:20260105T100000Z
DTEND:20260105T110000Z
RRULE:FREQ=WEEKLY;COUNT=10
EXDATE:20260112T100000Z
SUMMARY:Weekly meeting
END:VEVENT
END:VCALENDAR
"""

ONE_OFF = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//caldav//EN
BEGIN:VEVENT
UID:one-off@example.test
DTSTAMP:20260101T000000Z
DTSTART:20260220T150000Z
DTEND:20260220T160000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


def event(uid, start, summary):
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//caldav//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:{start}
DURATION:PT1H
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def at(y, m, d, h=0):
    return datetime.datetime(y, m, d, h, tzinfo=UTC)


class CaldavClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = None
        if caldav is None:
            return
        cls.server = Postern(users=[ALICE, BOB])
        cls.https = cls.server.ports[DEV_HTTPS]
        cls.server.wait_for(cls.https)
        cls.base = f"https://localhost:{cls.https}"

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()

    def setUp(self):
        if caldav is None:
            if os.environ.get("CI") == "true":
                self.fail("the Python `caldav` package is required under CI=true: python3 -m pip install caldav")
            self.skipTest("the Python `caldav` package is not installed (python3 -m pip install caldav)")

    def client(self, user, path="/dav/"):
        """A client for `user` configured as a user would: the server's URL
        and the account. The library's defaults are kept: its first request
        goes without credentials and gets a 401 (RFC 7617 §2), and it goes
        on over the same kept-alive connection, which the server must keep
        usable after an answer given before reading the body."""
        c = caldav.DAVClient(self.base + path, username=user, password=PASSWORD,
                             ssl_verify_cert=self.server.ca, timeout=20)
        self.addCleanup(c.close)
        return c

    def calendar(self, cal_id):
        """A new calendar of alice's, in the home her principal names."""
        principal = self.client(ALICE).principal()
        return principal.make_calendar(name=f"Calendar {cal_id}", cal_id=cal_id)

    def uids(self, objects):
        return sorted(str(o.icalendar_component["uid"]) for o in objects)

    def test_discovery_finds_the_principal_and_its_home(self):
        # A user gives the bare server URL: the library PROPFINDs `/`, and
        # the server's 301 (as for /.well-known/caldav, RFC 6764 §5) leads
        # it on to /dav/.
        c = self.client(ALICE, "/")
        principal = c.principal()
        self.assertEqual(caldav.lib.url.URL.objectify(principal.url).path.replace("%40", "@"),
                         f"/dav/principals/{ALICE}/")
        home = principal.calendar_home_set
        self.assertEqual(home.url.path.replace("%40", "@"), f"/dav/calendars/{ALICE}/")
        # A new account's home is listed with a calendar in it already.
        self.assertGreaterEqual(len(principal.calendars()), 1)

    def test_make_calendar_is_listed_with_its_name(self):
        cal = self.calendar("listed")
        principal = self.client(ALICE).principal()
        names = {c.url.path.rstrip("/").rsplit("/", 1)[-1]: c.get_display_name() for c in principal.calendars()}
        self.assertEqual(names.get("listed"), "Calendar listed", names)
        self.assertEqual(cal.get_display_name(), "Calendar listed")

    def test_time_range_search_returns_only_events_with_instances_in_it(self):
        cal = self.calendar("search")
        cal.save_event(WEEKLY)
        cal.save_event(ONE_OFF)
        cases = [
            # (start, end, uids expected)
            (at(2026, 1, 5), at(2026, 1, 6), ["weekly@example.test"]),
            (at(2026, 1, 12), at(2026, 1, 13), []),  # the EXDATE
            (at(2026, 1, 19), at(2026, 1, 20), ["weekly@example.test"]),
            (at(2026, 2, 20), at(2026, 2, 21), ["one-off@example.test"]),
            (at(2026, 2, 20, 15), at(2026, 2, 20, 16), ["one-off@example.test"]),
            (at(2026, 2, 20, 16), at(2026, 2, 20, 17), []),  # end is exclusive
            (at(2026, 1, 1), at(2026, 4, 1), ["one-off@example.test", "weekly@example.test"]),
            (at(2026, 3, 10), at(2026, 6, 1), []),  # after the tenth Monday
            (at(2025, 1, 1), at(2026, 1, 1), []),
        ]
        for start, end, expected in cases:
            with self.subTest(start=start, end=end):
                found = cal.search(start=start, end=end, event=True)
                self.assertEqual(self.uids(found), expected)
        # Expanded, the range of four weeks holds three Mondays, not four.
        found = cal.search(start=at(2026, 1, 5), end=at(2026, 2, 2), event=True, expand=True)
        starts = sorted(str(o.icalendar_component["dtstart"].dt) for o in found)
        self.assertEqual(starts, ["2026-01-05 10:00:00+00:00", "2026-01-19 10:00:00+00:00",
                                  "2026-01-26 10:00:00+00:00"])

    def test_load_change_and_delete_an_event(self):
        cal = self.calendar("edit")
        saved = cal.save_event(event("edit@example.test", "20260301T090000Z", "Before"))
        ev = cal.event_by_uid("edit@example.test")
        ev.load()
        self.assertEqual(str(ev.icalendar_component["summary"]), "Before")
        before = ev.get_property(dav.GetEtag())
        self.assertTrue(before)
        ev.icalendar_component["summary"] = "After"
        ev.save()
        again = caldav.Event(client=ev.client, url=ev.url, parent=cal)
        again.load()
        self.assertEqual(str(again.icalendar_component["summary"]), "After")
        after = again.get_property(dav.GetEtag())
        self.assertTrue(after)
        self.assertNotEqual(before, after)
        again.delete()
        with self.assertRaises(caldav_error.NotFoundError):
            cal.event_by_uid("edit@example.test")
        with self.assertRaises(caldav_error.NotFoundError):
            caldav.Event(client=saved.client, url=saved.url, parent=cal).load()
        self.assertEqual(cal.search(start=at(2026, 3, 1), end=at(2026, 3, 2), event=True), [])

    def test_sync_token_reports_changes_and_deletions(self):
        cal = self.calendar("sync")
        keep = cal.save_event(event("keep@example.test", "20260401T090000Z", "Keep"))
        gone = cal.save_event(event("gone@example.test", "20260402T090000Z", "Gone"))
        first = cal.objects_by_sync_token(load_objects=True)
        self.assertEqual(self.uids(first), ["gone@example.test", "keep@example.test"])
        token = first.sync_token
        self.assertTrue(token)
        # Nothing changed: nothing reported.
        same = cal.objects_by_sync_token(sync_token=token, load_objects=False)
        self.assertEqual(list(same), [])
        cal.save_event(event("new@example.test", "20260403T090000Z", "New"))
        keep.load()
        keep.icalendar_component["summary"] = "Kept, changed"
        keep.save()
        gone.delete()
        changes = cal.objects_by_sync_token(sync_token=token, load_objects=True)
        self.assertNotEqual(changes.sync_token, token)
        # A removal is a 404 response without properties (RFC 6578 §3.2);
        # the library lists it in `deleted_urls` and keeps an empty object
        # for it among the others.
        deleted = {u.canonical() for u in changes.deleted_urls}
        self.assertEqual(deleted, {gone.url.canonical()})
        changed = [o for o in changes if o.url.canonical() not in deleted]
        self.assertEqual(self.uids(changed), ["keep@example.test", "new@example.test"])
        self.assertEqual(str(next(o for o in changed if "keep" in str(o.url)).icalendar_component["summary"]),
                         "Kept, changed")

    def test_another_account_cannot_reach_the_calendars(self):
        cal = self.calendar("private")
        cal.save_event(event("private@example.test", "20260501T090000Z", "Private"))
        bob = self.client(BOB)
        bob_principal = bob.principal()
        self.assertEqual(bob_principal.calendar_home_set.url.path.replace("%40", "@"),
                         f"/dav/calendars/{BOB}/")
        self.assertNotIn("private", [c.url.path for c in bob_principal.calendars()])
        theirs = caldav.Calendar(client=bob, url=cal.url)
        with self.assertRaises(caldav_error.DAVError):
            theirs.events()
        with self.assertRaises(caldav_error.DAVError):
            theirs.search(start=at(2026, 5, 1), end=at(2026, 5, 2), event=True)
        with self.assertRaises(caldav_error.DAVError):
            theirs.save_event(event("intruder@example.test", "20260501T090000Z", "Intruder"))
        with self.assertRaises(caldav_error.DAVError):
            caldav.Principal(client=bob, url=f"{self.base}/dav/principals/{ALICE}/").calendars()
        # Alice's calendar is as she left it.
        self.assertEqual(self.uids(cal.events()), ["private@example.test"])

    def test_a_wrong_password_is_refused(self):
        c = caldav.DAVClient(self.base + "/dav/", username=ALICE, password="not the password",
                             ssl_verify_cert=self.server.ca, timeout=20)
        self.addCleanup(c.close)
        with self.assertRaises(caldav_error.AuthorizationError):
            c.principal()


if __name__ == "__main__":
    unittest.main(verbosity=2)
