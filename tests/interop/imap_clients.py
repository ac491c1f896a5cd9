#!/usr/bin/env python3
"""IMAP with independent clients: Python's imaplib (IMAP4_SSL, and IMAP4
with starttls()) and curl (imaps://), against the built `postern` binary.

Locally:
    cargo build && python3 tests/interop/imap_clients.py
POSTERN_BIN overrides the binary (default target/debug/postern).
"""
import imaplib
import os
import shutil
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import PASSWORD, Postern  # noqa: E402

USER = "alice@example.test"
MESSAGE = (
    b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: interop\r\n"
    b"Message-ID: <interop@example.test>\r\n\r\nfirst line\r\nlast line\r\n"
)


class ImapClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Postern(users=[USER], deliveries=[(USER, MESSAGE)] * 3)
        cls.dir, cls.ports, cls.ca = cls.server.dir, cls.server.ports, cls.server.ca
        cls.imaps = cls.ports[2993]
        cls.imap = cls.ports[2143]
        cls.server.wait_for(cls.imaps)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def login(self):
        m = imaplib.IMAP4_SSL("localhost", self.imaps, ssl_context=self.server.context(), timeout=10)
        m.login(USER, PASSWORD)
        return m

    def test_1_imap4_ssl_select_fetch_search_store(self):
        m = self.login()
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"3"])
        typ, data = m.fetch("1", "(BODY.PEEK[] FLAGS)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], MESSAGE)
        self.assertNotIn(b"\\Seen", data[0][0] + data[1])
        typ, data = m.fetch("1", "(ENVELOPE)")
        self.assertIn(b'"interop"', data[0])
        self.assertIn(b'("Bob" NIL "bob" "example.test")', data[0])
        typ, data = m.fetch("2", "(RFC822)")
        self.assertEqual(data[0][1], MESSAGE)
        typ, data = m.search(None, "UNSEEN")
        self.assertEqual(data, [b"1 3"])
        typ, data = m.uid("SEARCH", None, "SUBJECT", "interop")
        self.assertEqual(data, [b"1 2 3"])
        typ, data = m.store("3", "+FLAGS", "(\\Flagged)")
        self.assertIn(b"\\Flagged", data[0])
        typ, data = m.search(None, "FLAGGED")
        self.assertEqual(data, [b"3"])
        m.logout()

    def test_2_starttls_then_append_copy_move_expunge(self):
        m = imaplib.IMAP4("localhost", self.imap, timeout=10)
        self.assertIn("STARTTLS", m.capabilities)
        self.assertIn("LOGINDISABLED", m.capabilities)
        m.starttls(ssl_context=self.server.context())
        m.login(USER, PASSWORD)
        typ, data = m.append("Archive", "(\\Seen)", None, MESSAGE)
        self.assertEqual(typ, "OK")
        self.assertIn(b"APPENDUID", data[0])
        typ, data = m.list()
        names = b"\n".join(data)
        for name in (b'"INBOX"', b'"Archive"', b'"Sent"', b'"Trash"'):
            self.assertIn(name, names)
        self.assertIn(b"\\Archive", names)
        m.select("INBOX")
        typ, data = m.copy("1", "Trash")
        self.assertEqual(typ, "OK")
        typ, data = m.uid("MOVE", "2", "Archive")
        self.assertEqual(typ, "OK")
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.response("EXPUNGE")  # forget the one MOVE reported
        typ, data = m.expunge()
        self.assertEqual(data, [b"1"])
        typ, data = m.status("Archive", "(MESSAGES UNSEEN)")
        self.assertIn(b"MESSAGES 2", data[0])
        m.create("Projects/2026")
        m.rename("Projects/2026", "Done")
        typ, data = m.list('""', "Done")
        self.assertIn(b'"Done"', data[0])
        m.delete("Done")
        m.logout()

    def test_3_no_login_before_tls(self):
        m = imaplib.IMAP4("localhost", self.imap, timeout=10)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(USER, PASSWORD)
        m.logout()

    def test_4_idle_sees_an_smtp_delivery_within_a_second(self):
        m = self.login()
        m.select("INBOX")
        tag = m._new_tag().decode()
        m.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(m.readline().startswith(b"+"))
        with smtplib.SMTP("localhost", self.ports[2525], timeout=10) as s:
            s.starttls(context=self.server.context())
            s.sendmail("bob@example.test", [USER], MESSAGE)
            # Delivered (durable) once the 250 came back: the clock starts.
            start = time.time()
        line = m.readline()
        self.assertRegex(line, rb"^\* \d+ EXISTS")
        self.assertLess(time.time() - start, 1.0)
        m.send(b"DONE\r\n")
        while not m.readline().startswith(tag.encode() + b" OK"):
            pass
        m.logout()

    def test_5_curl_reads_over_imaps(self):
        curl = shutil.which("curl")
        if curl is None:
            if os.environ.get("CI") == "true":
                self.fail("curl is required under CI=true")
            self.skipTest("curl not installed")
        out = subprocess.run(
            [curl, "-sS", "--cacert", self.ca, "--user", f"{USER}:{PASSWORD}",
             f"imaps://localhost:{self.imaps}/INBOX;UID=3"],
            capture_output=True, timeout=30,
        )
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        self.assertIn(b"Subject: interop", out.stdout)
        self.assertIn(b"last line", out.stdout)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
