#!/usr/bin/env python3
"""POP3 with independent clients: Python's poplib (POP3_SSL and POP3 +
stls()) and curl (pop3s://), against the built `postern` binary.

Run by .ci/run after `cargo build`; locally:
    cargo build && python3 tests/interop/pop3_clients.py
POSTERN_BIN overrides the binary (default target/debug/postern).
"""
import os
import poplib
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import PASSWORD, Postern  # noqa: E402

USER = "alice@example.test"
MESSAGE = (
    b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: interop\r\n\r\n"
    b"first line\r\n.a line with a leading dot\r\nlast line\r\n"
)


class Pop3Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Postern(users=[USER], deliveries=[(USER, MESSAGE)] * 3)
        cls.ca = cls.server.ca
        cls.pop3s = cls.server.ports[2995]
        cls.pop3 = cls.server.ports[2110]
        cls.server.wait_for(cls.pop3s)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_1_pop3_ssl_reads_with_dot_stuffing_undone(self):
        p = poplib.POP3_SSL("localhost", self.pop3s, context=self.server.context(), timeout=10)
        p.user(USER)
        p.pass_(PASSWORD)
        count, size = p.stat()
        self.assertEqual(count, 3)
        self.assertEqual(size, 3 * len(MESSAGE))
        resp, lines, octets = p.retr(1)
        self.assertTrue(resp.startswith(b"+OK"))
        # poplib removes the dot-stuffing: the client sees the message as sent.
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", MESSAGE)
        resp, uids, _ = p.uidl()
        self.assertEqual(len(uids), 3)
        resp, top, _ = p.top(2, 0)
        self.assertIn(b"Subject: interop", top)
        self.assertNotIn(b"first line", top)
        p.quit()

    def test_2_stls_then_login_and_dele_quit_removes(self):
        p = poplib.POP3("localhost", self.pop3, timeout=10)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        p.stls(context=self.server.context())
        caps = p.capa()
        self.assertIn("USER", caps)
        self.assertNotIn("STLS", caps)
        p.user(USER)
        p.pass_(PASSWORD)
        p.dele(3)
        p.quit()
        p = poplib.POP3_SSL("localhost", self.pop3s, context=self.server.context(), timeout=10)
        p.user(USER)
        p.pass_(PASSWORD)
        self.assertEqual(p.stat()[0], 2)
        p.quit()

    def test_3_no_credentials_before_tls(self):
        p = poplib.POP3("localhost", self.pop3, timeout=10)
        with self.assertRaises(poplib.error_proto) as refused:
            p.user(USER)
        self.assertIn(b"[AUTH]", refused.exception.args[0])
        p.quit()

    def test_4_wrong_password_and_unknown_user_look_the_same(self):
        answers = []
        for user in (USER, "nobody@example.test"):
            p = poplib.POP3_SSL("localhost", self.pop3s, context=self.server.context(), timeout=10)
            p.user(user)
            with self.assertRaises(poplib.error_proto) as failed:
                p.pass_("wrong password here")
            answers.append(failed.exception.args[0])
            p.quit()
        self.assertEqual(answers[0], answers[1])

    def test_5_stls_injection_is_not_executed(self):
        with socket.create_connection(("127.0.0.1", self.pop3), timeout=10) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(b"STLS\r\nCAPA\r\n")
            self.assertTrue(f.readline().startswith(b"+OK"))
            # The CAPA sent in clear after STLS is never answered.
            self.assertEqual(f.readline(), b"")

    def test_6_curl_reads_over_pop3s(self):
        curl = shutil.which("curl")
        if curl is None:
            if os.environ.get("CI") == "true":
                self.fail("curl is required under CI=true")
            self.skipTest("curl not installed")
        out = subprocess.run(
            [curl, "-sS", "--cacert", self.ca, "--user", f"{USER}:{PASSWORD}",
             f"pop3s://localhost:{self.pop3s}/1"],
            capture_output=True, timeout=30,
        )
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        self.assertIn(b"Subject: interop", out.stdout)
        self.assertIn(b".a line with a leading dot", out.stdout)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
