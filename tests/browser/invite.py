#!/usr/bin/env python3
"""Invitations by mail (iMIP, RFC 6047) in a real browser: headless
Chromium, driven by Playwright (invite.mjs), against the built `postern`
binary. Alice's calendar client stores an event over CalDAV and sends its
REQUEST over SMTP submission; bob opens it in the webmail and clicks
Accept; alice opens the REPLY that arrives. Every outcome of a click is
checked independently, over CalDAV (http.client, TLS) and IMAP (imaplib,
TLS), never by reading the pages back.

Locally:
    apt-get install chromium
    npm ci --prefix tests/browser
    cargo build && python3 tests/browser/invite.py
Without Chromium, Node.js or tests/browser/node_modules the tests are
skipped, except under CI=true, where they fail. Screenshots of every step
go to target/browser-artifacts/ (BROWSER_ARTIFACTS overrides);
POSTERN_BIN overrides the binary, CHROMIUM the browser. What the three
browser suites share is in browser_support.py and browser.mjs.
"""
import base64
import email
import email.policy
import http.client
import imaplib
import re
import smtplib
import unittest
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from browser_support import DEV_HTTPS, DEV_IMAPS, DOMAIN, PASSWORD, BrowserSuite

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


def event(uid, summary, method=None):
    """Alice's event, bob invited; with METHOD it is the iTIP message."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    if method:
        lines.append(f"METHOD:{method}")
    lines += [
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", "SEQUENCE:0",
        "DTSTART:20261201T100000Z", "DTEND:20261201T110000Z",
        f"SUMMARY:{summary}", "LOCATION:Room 4",
        f"ORGANIZER;CN=Alice:mailto:{ALICE}",
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{BOB}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def partstat(ical, who):
    """The PARTSTAT of attendee `who` in an iCalendar text."""
    unfolded = ical.replace("\r\n ", "")
    for line in unfolded.splitlines():
        if line.startswith("ATTENDEE") and f"mailto:{who}" in line.lower():
            m = re.search(r"PARTSTAT=([A-Z-]+)", line)
            return m.group(1) if m else "NEEDS-ACTION"
    raise AssertionError(f"no ATTENDEE {who} in\n{ical}")


class Invitations(BrowserSuite, unittest.TestCase):
    script = "invite.mjs"
    users = (ALICE, BOB)
    services = (DEV_HTTPS, DEV_IMAPS)

    # --- the outside world: CalDAV, SMTP, IMAP ---

    def dav(self, user, method, path, body=b"", headers=None):
        """One CalDAV request with Basic credentials: (status, body)."""
        conn = http.client.HTTPSConnection("localhost", self.https, context=self.server.context(), timeout=20)
        auth = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        try:
            conn.request(method, path, body=body, headers={"Authorization": f"Basic {auth}", **(headers or {})})
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def send_invitation(self, uid, summary):
        """Alice's client: the event stored, its REQUEST sent to bob."""
        home = f"/dav/calendars/{ALICE}/"
        # The first PROPFIND of a home makes its default calendar.
        status, _ = self.dav(ALICE, "PROPFIND", home, b"", {"Depth": "1"})
        self.assertEqual(status, 207)
        status, text = self.dav(
            ALICE, "PUT", f"{home}default/{uid}.ics", event(uid, summary).encode(),
            {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
        )
        self.assertEqual(status, 201, text)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = ALICE, BOB, f"Invitation: {summary}"
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain=DOMAIN)
        msg.set_content(f"You are invited to {summary}.\n")
        msg.add_alternative(event(uid, summary, "REQUEST"), subtype="calendar", params={"method": "REQUEST"})
        with smtplib.SMTP_SSL("localhost", self.server.submissions, context=self.server.context(), timeout=20) as s:
            s.login(ALICE, PASSWORD)
            s.send_message(msg)

    def inbox(self, user):
        conn = imaplib.IMAP4_SSL("localhost", self.imaps, ssl_context=self.server.context(), timeout=20)
        try:
            conn.login(user, PASSWORD)
            typ, data = conn.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK", data)
            if not int(data[0]):
                return []
            typ, data = conn.fetch("1:*", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
            return [email.message_from_bytes(i[1], policy=email.policy.default) for i in data if isinstance(i, tuple)]
        finally:
            conn.logout()

    # --- the browser ---

    def browse(self, user, *steps):
        """Runs invite.mjs through the steps, logged in as `user`."""
        self.run_browser(user, f"{self.method_name()}-{user.split('@')[0]}", steps)

    # --- the test ---

    def test_bob_accepts_and_alice_sees_the_answer(self):
        tag = uuid.uuid4().hex[:8]
        uid, summary = f"planning-{tag}@{DOMAIN}", f"Planning {tag}"
        self.send_invitation(uid, summary)
        self.eventually(
            lambda: any(m["Subject"] == f"Invitation: {summary}" for m in self.inbox(BOB)),
            "the invitation never reached bob",
        )
        bob_event = f"/dav/calendars/{BOB}/default/{uid}.ics"
        self.assertEqual(self.dav(BOB, "GET", bob_event)[0], 404, "nothing before bob answers")

        self.browse(
            BOB,
            {"do": "open", "subject": f"Invitation: {summary}", "box": "Invitation",
             "see": [summary, "Room 4", "2026-12-01 10:00 – 11:00 UTC", "Alice <alice@example.test>"]},
            {"do": "click", "button": "Accept", "see": ["In your calendar: you accepted."]},
        )
        status, ics = self.dav(BOB, "GET", bob_event)
        self.assertEqual(status, 200, "bob's calendar has the event")
        self.assertEqual(partstat(ics, BOB), "ACCEPTED", ics)

        replies = self.eventually(
            lambda: [m for m in self.inbox(ALICE) if m["Subject"] == f"Accepted: {summary}"],
            "the answer never reached alice",
        )
        part = next(p for p in replies[0].walk() if p.get_content_type() == "text/calendar")
        self.assertEqual(part.get_param("method"), "REPLY")
        self.assertEqual(partstat(part.get_content(), BOB), "ACCEPTED")
        alice_event = f"/dav/calendars/{ALICE}/default/{uid}.ics"
        self.assertEqual(partstat(self.dav(ALICE, "GET", alice_event)[1], BOB), "NEEDS-ACTION")

        self.browse(
            ALICE,
            {"do": "open", "subject": f"Accepted: {summary}", "box": "Answer",
             "see": ["Your calendar was updated: bob@example.test accepted."]},
        )
        status, ics = self.dav(ALICE, "GET", alice_event)
        self.assertEqual(status, 200)
        self.assertEqual(partstat(ics, BOB), "ACCEPTED", ics)


if __name__ == "__main__":
    unittest.main(verbosity=2)
