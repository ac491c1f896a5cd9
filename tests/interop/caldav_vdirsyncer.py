#!/usr/bin/env python3
"""CalDAV (RFC 4791) with vdirsyncer against the built `postern` binary:
a local filesystem calendar kept in step with Postern's. vdirsyncer
discovers the calendars from the server URL (RFC 6764, the principal's
calendar-home-set), uploads events (one recurring, with its VTIMEZONE)
and to-dos (into a calendar made for VTODO only), downloads a change
made on the server by a plain HTTP PUT, carries deletions both ways, and
resolves a change made on both sides as its `conflict_resolution` says.
A calendar that exists only locally is made on the server by vdirsyncer
itself, with an extended MKCOL (RFC 5689).
After each sync both sides are compared item by item.

Locally:
    cargo build -p postern && python3 tests/interop/caldav_vdirsyncer.py
POSTERN_BIN overrides the binary (default target/debug/postern).
vdirsyncer comes from Debian (`apt-get install vdirsyncer`); CI installs
it, so under CI=true a missing vdirsyncer is a failure.
"""
import base64
import http.client
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import DOMAIN, PASSWORD, Postern, need_program  # noqa: E402

ALICE = f"alice@{DOMAIN}"
DEV_HTTPS = 8443
HOME = f"/dav/calendars/{ALICE}/"

# Weekly on Mondays at 09:00 Berlin time from 5 January 2026, eight
# times, with the zone's rules carried in the object (RFC 5545 §3.6.5).
WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//vdirsyncer//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly@example.test
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T100000
RRULE:FREQ=WEEKLY;COUNT=8
SUMMARY:Team meeting
END:VEVENT
END:VCALENDAR
"""


def event(uid, summary, start="20260301T090000Z"):
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//vdirsyncer//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:{start}
DURATION:PT1H
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def todo(uid, summary):
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Postern interop//vdirsyncer//EN
BEGIN:VTODO
UID:{uid}
DTSTAMP:20260101T000000Z
SUMMARY:{summary}
END:VTODO
END:VCALENDAR
"""


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def field(ics, name):
    """The value of the first `name:` line of an iCalendar text (unfolded
    enough for the short lines used here)."""
    for line in ics.replace("\r\n", "\n").split("\n"):
        if line.startswith(name + ":") or line.startswith(name + ";"):
            return line.split(":", 1)[1]
    return None


class Dav:
    """Plain HTTP on the server, as another client would write."""

    def __init__(self, port, ca):
        self.port = port
        self.context = ssl.create_default_context(cafile=ca)
        token = base64.b64encode(f"{ALICE}:{PASSWORD}".encode()).decode()
        self.auth = f"Basic {token}"

    def request(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.context, timeout=20)
        try:
            h = {"Authorization": self.auth, **(headers or {})}
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            conn.close()

    def mkcalendar(self, name, components=None):
        comps = ""
        if components:
            comps = "<C:supported-calendar-component-set>" + "".join(
                f'<C:comp name="{c}"/>' for c in components) + "</C:supported-calendar-component-set>"
        body = ('<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
                f"<D:displayname>{name}</D:displayname>{comps}</D:prop></D:set></C:mkcalendar>")
        status, _, text = self.request("MKCALENDAR", f"{HOME}{name}/", body.encode())
        if status != 201:
            raise AssertionError(f"MKCALENDAR {name}: {status} {text!r}")

    def items(self, cal):
        """{UID: (path, ETag, iCalendar text)} of the calendar's members."""
        body = b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        status, _, text = self.request("PROPFIND", f"{HOME}{cal}/", body, {"Depth": "1"})
        if status != 207:
            raise AssertionError(f"PROPFIND {cal}: {status} {text!r}")
        out = {}
        for response in ET.fromstring(text).findall("{DAV:}response"):
            href = response.findtext("{DAV:}href")
            if unquote(href).endswith("/"):
                continue
            status, headers, data = self.request("GET", href)
            if status != 200:
                raise AssertionError(f"GET {href}: {status}")
            ics = data.decode()
            out[field(ics, "UID")] = (href, headers.get("etag"), ics)
        return out


class VdirsyncerClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = None
        if shutil.which("vdirsyncer") is None:
            return
        cls.server = Postern(users=[ALICE])
        cls.https = cls.server.ports[DEV_HTTPS]
        cls.server.wait_for(cls.https)
        cls.dav = Dav(cls.https, cls.server.ca)

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()

    def setUp(self):
        need_program(self, "vdirsyncer")
        self.dir = tempfile.mkdtemp(prefix="postern-vdirsyncer-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.local = os.path.join(self.dir, "local")

    def configure(self, collections, conflict_resolution="b wins"):
        """A vdirsyncer configuration pairing a local directory ("a") with
        Postern ("b"), given only the server's URL, the account, and the CA
        to trust for the server's certificate."""
        names = ", ".join(f'"{c}"' for c in collections)
        self.config = os.path.join(self.dir, "config")
        with open(self.config, "w") as f:
            f.write(f"""[general]
status_path = "{self.dir}/status/"

[pair cal]
a = "local"
b = "postern"
collections = [{names}]
conflict_resolution = "{conflict_resolution}"

[storage local]
type = "filesystem"
path = "{self.local}/"
fileext = ".ics"

[storage postern]
type = "caldav"
url = "https://localhost:{self.https}/"
username = "{ALICE}"
password = "{PASSWORD}"
verify = "{self.server.ca}"
""")

    def vdirsyncer(self, *args):
        # `discover` asks before it makes the local directories: yes.
        result = subprocess.run(
            ["vdirsyncer", "-c", self.config, *args], input="y\n" * 10,
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"vdirsyncer {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\nserver log:\n{self.server.log_text()[-3000:]}")
        return result.stdout + result.stderr

    def local_items(self, cal):
        """{UID: (path, iCalendar text)} of the local collection."""
        out = {}
        folder = os.path.join(self.local, cal)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            with open(path, newline="") as f:
                ics = f.read()
            out[field(ics, "UID")] = (path, ics)
        return out

    def write_local(self, cal, name, ics):
        with open(os.path.join(self.local, cal, name), "w", newline="") as f:
            f.write(crlf(ics))

    def assert_same_both_sides(self, cal, expected):
        """Both sides hold exactly the UIDs `expected` ({UID: SUMMARY})."""
        server = self.dav.items(cal)
        local = self.local_items(cal)
        self.assertEqual({u: field(ics, "SUMMARY") for u, (_, _, ics) in server.items()}, expected)
        self.assertEqual({u: field(ics, "SUMMARY") for u, (_, ics) in local.items()}, expected)
        for uid, (_, _, ics) in server.items():
            self.assertEqual(field(ics, "DTSTART"), field(local[uid][1], "DTSTART"), uid)

    def test_sync_up_change_down_and_delete_on_each_side(self):
        self.dav.mkcalendar("events")
        self.dav.mkcalendar("tasks", ["VTODO"])
        self.configure(["events", "tasks"])
        self.vdirsyncer("discover")
        self.assertTrue(os.path.isdir(os.path.join(self.local, "events")))
        self.assertTrue(os.path.isdir(os.path.join(self.local, "tasks")))

        # Up: a recurring event with its time zone, a one-off, a to-do.
        self.write_local("events", "weekly.ics", WEEKLY)
        self.write_local("events", "dentist.ics", event("dentist@example.test", "Dentist"))
        self.write_local("tasks", "milk.ics", todo("milk@example.test", "Buy milk"))
        self.write_local("tasks", "tax.ics", todo("tax@example.test", "File taxes"))
        self.vdirsyncer("sync")
        self.assert_same_both_sides("events", {"weekly@example.test": "Team meeting",
                                               "dentist@example.test": "Dentist"})
        self.assert_same_both_sides("tasks", {"milk@example.test": "Buy milk",
                                              "tax@example.test": "File taxes"})
        weekly = self.dav.items("events")["weekly@example.test"][2]
        self.assertIn("TZID:Europe/Berlin", weekly)
        self.assertIn("RRULE:FREQ=WEEKLY;COUNT=8", weekly)

        # Down: another client changes the weekly event on the server.
        href, etag, ics = self.dav.items("events")["weekly@example.test"]
        changed = ics.replace("SUMMARY:Team meeting", "SUMMARY:Team meeting (room 2)")
        status, _, _ = self.dav.request("PUT", href, changed.encode(),
                                        {"If-Match": etag, "Content-Type": "text/calendar"})
        self.assertEqual(status, 204)
        self.vdirsyncer("sync")
        self.assert_same_both_sides("events", {"weekly@example.test": "Team meeting (room 2)",
                                               "dentist@example.test": "Dentist"})

        # Deleted locally: gone from the server. Deleted on the server:
        # gone locally. (One item stays on each side: vdirsyncer refuses
        # to empty a side completely without --force-delete.)
        os.remove(self.local_items("events")["dentist@example.test"][0])
        href = self.dav.items("tasks")["milk@example.test"][0]
        status, _, _ = self.dav.request("DELETE", href)
        self.assertEqual(status, 204)
        self.vdirsyncer("sync")
        self.assert_same_both_sides("events", {"weekly@example.test": "Team meeting (room 2)"})
        self.assert_same_both_sides("tasks", {"tax@example.test": "File taxes"})

    def test_a_local_calendar_is_made_on_the_server(self):
        # Only the local side has "travel": `collections = ["from a"]`
        # makes vdirsyncer create it on the server (extended MKCOL with
        # a calendar resourcetype) once `discover` is answered yes.
        os.makedirs(os.path.join(self.local, "travel"))
        self.write_local("travel", "flight.ics", event("flight@example.test", "Flight"))
        self.configure(["from a"])
        self.vdirsyncer("discover")
        body = (b'<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>'
                b"<d:resourcetype/></d:prop></d:propfind>")
        status, _, text = self.dav.request("PROPFIND", f"{HOME}travel/", body, {"Depth": "0"})
        self.assertEqual(status, 207, text)
        self.assertIn(b"<c:calendar/>", text)
        self.vdirsyncer("sync")
        self.assert_same_both_sides("travel", {"flight@example.test": "Flight"})

    def test_a_change_on_both_sides_resolves_as_configured(self):
        self.dav.mkcalendar("both")
        self.configure(["both"], conflict_resolution="b wins")
        self.vdirsyncer("discover")
        self.write_local("both", "lunch.ics", event("lunch@example.test", "Lunch"))
        self.vdirsyncer("sync")
        self.assert_same_both_sides("both", {"lunch@example.test": "Lunch"})

        def change_both(local_summary, server_summary):
            path, ics = self.local_items("both")["lunch@example.test"]
            with open(path, "w", newline="") as f:
                f.write(ics.replace(f"SUMMARY:{field(ics, 'SUMMARY')}", f"SUMMARY:{local_summary}"))
            href, etag, ics = self.dav.items("both")["lunch@example.test"]
            body = ics.replace(f"SUMMARY:{field(ics, 'SUMMARY')}", f"SUMMARY:{server_summary}")
            status, _, _ = self.dav.request("PUT", href, body.encode(),
                                            {"If-Match": etag, "Content-Type": "text/calendar"})
            self.assertEqual(status, 204)

        # "b wins": the server's version goes to both sides.
        change_both("Lunch (local)", "Lunch (server)")
        self.vdirsyncer("sync")
        self.assert_same_both_sides("both", {"lunch@example.test": "Lunch (server)"})

        # "a wins": the local version replaces the server's, which
        # vdirsyncer writes with If-Match on the ETag it last saw.
        self.configure(["both"], conflict_resolution="a wins")
        change_both("Lunch at noon (local)", "Lunch at one (server)")
        self.vdirsyncer("sync")
        self.assert_same_both_sides("both", {"lunch@example.test": "Lunch at noon (local)"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
