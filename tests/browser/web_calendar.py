#!/usr/bin/env python3
"""The web calendar in a real browser: headless Chromium, driven by
Playwright (web_calendar.mjs), against the built `postern` binary. Every
outcome of a click is checked over CalDAV (raw HTTP over TLS with
http.client), and an event put over CalDAV must show in the week view:
the browser and calendar clients share one calendar.

Locally:
    apt-get install chromium
    npm ci --prefix tests/browser
    cargo build && python3 tests/browser/web_calendar.py
Without Chromium, Node.js or tests/browser/node_modules the tests are
skipped, except under CI=true, where they fail. Screenshots of every step
go to target/browser-artifacts/ (BROWSER_ARTIFACTS overrides);
POSTERN_BIN overrides the binary, CHROMIUM the browser. What the three
browser suites share is in browser_support.py and browser.mjs.
"""
import base64
import datetime
import http.client
import re
import unittest
import uuid

from browser_support import DOMAIN, PASSWORD, BrowserSuite

ALICE = f"alice@{DOMAIN}"
# The browser's zone: the calendar must pick it up by itself.
ZONE = "Europe/Berlin"


def day_label(d):
    """The week view's words for a day: `Wednesday 2 December 2026`."""
    return f"{d:%A} {d.day} {d:%B} {d.year}"


class Calendar(BrowserSuite, unittest.TestCase):
    script = "web_calendar.mjs"
    password_env = "CALENDAR_PASSWORD"
    users = (ALICE,)

    # --- CalDAV, as a client sees it ---

    def dav(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPSConnection("localhost", self.https, context=self.server.context(), timeout=20)
        try:
            creds = base64.b64encode(f"{ALICE}:{PASSWORD}".encode()).decode()
            h = {"Authorization": f"Basic {creds}", **(headers or {})}
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def events(self):
        """{href: iCalendar text} of every object in the default calendar,
        found with PROPFIND Depth 1 (which also makes the calendar)."""
        home = f"/dav/calendars/{ALICE}/"
        status, _, _ = self.dav("PROPFIND", home, headers={"Depth": "1"})
        self.assertEqual(status, 207)
        status, _, body = self.dav("PROPFIND", home + "default/", headers={"Depth": "1"})
        self.assertEqual(status, 207, body)
        out = {}
        for href in re.findall(r"<(?:\w+:)?href>([^<]+\.ics)</(?:\w+:)?href>", body):
            status, _, ics = self.dav("GET", href)
            self.assertEqual(status, 200, href)
            out[href] = ics.replace("\r\n ", "")
        return out

    # --- the browser ---

    def browse(self, *steps):
        """Runs web_calendar.mjs through the steps, as alice in ZONE."""
        self.run_browser(ALICE, f"calendar-{self.method_name()}", steps, ("--zone", ZONE))

    # --- the tests ---

    def test_an_event_made_in_the_week_view_is_there_over_caldav(self):
        day = datetime.date(2026, 12, 2)
        title = f"Budget review {uuid.uuid4().hex[:8]}"
        self.browse({
            "do": "create_in_week", "date": day.isoformat(), "day_label": day_label(day),
            "title": title, "location": "Room 7",
        })
        found = [ics for ics in self.events().values() if f"SUMMARY:{title}" in ics]
        self.assertEqual(len(found), 1, f"{title} over CalDAV")
        ics = found[0]
        # 10:00 in the browser's zone, which the form used.
        self.assertIn(f"DTSTART;TZID={ZONE}:20261202T100000", ics)
        self.assertIn(f"DTEND;TZID={ZONE}:20261202T110000", ics)
        self.assertIn("LOCATION:Room 7", ics)
        self.assertIn(f"TZID:{ZONE}", ics, "a VTIMEZONE for clients that need one")

    def test_an_event_put_over_caldav_shows_in_the_week_view(self):
        self.events()
        title = f"Dentist {uuid.uuid4().hex[:8]}"
        uid = str(uuid.uuid4())
        ics = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Python//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
            "DTSTART:20261203T150000Z\r\nDTEND:20261203T160000Z\r\n"
            f"SUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        status, _, body = self.dav(
            "PUT", f"/dav/calendars/{ALICE}/default/{uid}.ics", ics.encode(),
            {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
        )
        self.assertEqual(status, 201, body)
        # 15:00 UTC is 16:00 in Berlin in December.
        self.browse({"do": "see_in_week", "date": "2026-12-03", "title": title, "time": "16:00–17:00"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
