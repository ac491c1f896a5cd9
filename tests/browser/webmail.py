#!/usr/bin/env python3
"""The webmail in a real browser: headless Chromium, driven by Playwright
(webmail.mjs), against the built `postern` binary. Mail goes in over SMTP
submission (smtplib, TLS) and every outcome of a click is checked
independently over IMAP (imaplib, TLS), never by reading the pages back.

Locally:
    apt-get install chromium
    npm ci --prefix tests/browser
    cargo build && python3 tests/browser/webmail.py
Without Chromium, Node.js or tests/browser/node_modules the tests are
skipped, except under CI=true, where they fail. Screenshots of every step
go to target/browser-artifacts/ (BROWSER_ARTIFACTS overrides);
POSTERN_BIN overrides the binary, CHROMIUM the browser. What the three
browser suites share is in browser_support.py and browser.mjs.
"""
import email
import email.policy
import imaplib
import os
import re
import smtplib
import unittest
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from browser_support import DEV_HTTPS, DEV_IMAPS, DOMAIN, PASSWORD, BrowserSuite

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"


class Webmail(BrowserSuite, unittest.TestCase):
    script = "webmail.mjs"
    users = (ALICE, BOB)
    services = (DEV_HTTPS, DEV_IMAPS)

    # --- the outside world: SMTP in, IMAP to check ---

    def send(self, sender, to, subject, body, attachment=None):
        """One message over submission with implicit TLS (RFC 8314);
        returns its Message-ID."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain=DOMAIN)
        msg.set_content(body)
        if attachment is not None:
            name, data = attachment
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        with smtplib.SMTP_SSL("localhost", self.server.submissions, context=self.server.context(), timeout=20) as s:
            s.login(sender, PASSWORD)
            s.send_message(msg)
        return msg["Message-ID"]

    def imap(self, user):
        conn = imaplib.IMAP4_SSL("localhost", self.imaps, ssl_context=self.server.context(), timeout=20)
        conn.login(user, PASSWORD)
        return conn

    def folder(self, user, name):
        """[(flags, parsed message)] of a folder, read-only (EXAMINE)."""
        conn = self.imap(user)
        try:
            typ, data = conn.select(f'"{name}"', readonly=True)
            self.assertEqual(typ, "OK", f"EXAMINE {name} for {user}: {data}")
            typ, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[])") if int(data[0]) else ("OK", [])
            self.assertEqual(typ, "OK", data)
            out = []
            for item in data:
                if isinstance(item, tuple):
                    flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                    out.append((flags, email.message_from_bytes(item[1], policy=email.policy.default)))
            return out
        finally:
            conn.logout()

    def subjects(self, user, name):
        return [m["Subject"] for _, m in self.folder(user, name)]

    def folder_names(self, user):
        conn = self.imap(user)
        try:
            typ, data = conn.list('""', "*")
            self.assertEqual(typ, "OK", data)
            names = []
            for line in data:
                # `(flags) "/" name`, the name quoted or an atom (RFC 9051 §7.3.1).
                m = re.match(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
                self.assertIsNotNone(m, f"LIST line not understood: {line!r}")
                quoted, atom = m.group(2), m.group(3)
                names.append(re.sub(rb"\\(.)", rb"\1", quoted).decode() if quoted is not None else atom.decode())
            return names
        finally:
            conn.logout()

    # --- the browser ---

    def browse(self, user, *steps):
        """Runs webmail.mjs through the steps, logged in as `user`."""
        self.run_browser(user, self.method_name(), steps)

    # --- the tests ---

    def test_reads_a_message_sent_over_smtp(self):
        subject = f"Quarterly figures {uuid.uuid4().hex[:8]}"
        body = "Hello Alice,\n\nthe figures are attached below.\nRegards, Bob\n"
        self.send(BOB, ALICE, subject, body)
        self.browse(ALICE, {"do": "read", "subject": subject, "body": body})
        # Showing a message sets \Seen, as an IMAP BODY[] fetch does
        # (RFC 9051 §6.4.5): the browser really opened this one.
        flags = [f for f, m in self.folder(ALICE, "INBOX") if m["Subject"] == subject]
        self.assertEqual(len(flags), 1, self.subjects(ALICE, "INBOX"))
        self.assertIn("\\Seen", flags[0])

    def test_replies_with_an_attachment(self):
        subject = f"Venue for the offsite {uuid.uuid4().hex[:8]}"
        asked = self.send(BOB, ALICE, subject, "Which of the two venues do you prefer?\n")
        # Bytes that no text conversion leaves alone: every octet value, a
        # bare CR and LF, and no trailing newline.
        data = bytes(range(256)) * 12 + b"\r\n\r.\n\x00end"
        attachment = os.path.join(self.server.dir, "venue-plan.bin")
        with open(attachment, "wb") as f:
            f.write(data)
        text = f"The second one, see the plan. {uuid.uuid4().hex[:6]}"
        self.browse(
            ALICE,
            {"do": "read", "subject": subject, "body": "Which of the two venues do you prefer?"},
            {"do": "reply", "subject": subject, "to": BOB, "text": text, "attachment": attachment},
        )
        reply = f"Re: {subject}"
        got = self.eventually(
            lambda: [m for _, m in self.folder(BOB, "INBOX") if m["Subject"] == reply],
            f"{BOB} never received {reply!r}",
        )
        self.assertEqual(len(got), 1)
        for where, msg in (("bob's INBOX", got[0]), ("alice's Sent", self.sent_copy(reply))):
            with self.subTest(where):
                self.assertIn(ALICE, msg["From"])
                self.assertIn(BOB, msg["To"])
                # RFC 5322 §3.6.4: a reply names the message it answers.
                self.assertEqual(msg["In-Reply-To"].strip(), asked)
                self.assertIn(text, msg.get_body(preferencelist=("plain",)).get_content())
                files = [(a.get_filename(), a.get_content()) for a in msg.iter_attachments()]
                self.assertEqual(files, [("venue-plan.bin", data)])

    def sent_copy(self, subject):
        found = [m for _, m in self.folder(ALICE, "Sent") if m["Subject"] == subject]
        self.assertEqual(len(found), 1, f"alice's Sent: {self.subjects(ALICE, 'Sent')}")
        return found[0]

    def test_moves_one_message_and_deletes_another(self):
        tag = uuid.uuid4().hex[:8]
        keep, drop = f"Keep this {tag}", f"Throw this away {tag}"
        self.send(BOB, ALICE, keep, "for the archive\n")
        self.send(BOB, ALICE, drop, "not worth keeping\n")
        self.browse(
            ALICE,
            {"do": "move", "subject": keep, "folder": "Archive"},
            {"do": "delete", "subject": drop},
        )
        inbox = self.subjects(ALICE, "INBOX")
        self.assertNotIn(keep, inbox)
        self.assertNotIn(drop, inbox)
        self.assertEqual(self.subjects(ALICE, "Archive").count(keep), 1)
        self.assertEqual(self.subjects(ALICE, "Trash").count(drop), 1)

    def test_creates_a_folder(self):
        name = f"Projects/Web {uuid.uuid4().hex[:6]}"
        self.assertNotIn(name, self.folder_names(BOB))
        self.browse(BOB, {"do": "create_folder", "name": name})
        names = self.folder_names(BOB)
        self.assertIn(name, names)
        self.assertNotIn(name, self.folder_names(ALICE))


if __name__ == "__main__":
    unittest.main(verbosity=2)
