#!/usr/bin/env python3
"""POP3 with fetchmail (the Debian package) over STLS on the pop3 port,
against the built `postern` binary: it must verify the server's
certificate, log in only after TLS, fetch every message intact, delete
them (DELE, then QUIT), and find nothing on a second run. Without TLS it
must get no login.

Run by .ci/run after `cargo build`; locally:
    cargo build && python3 tests/interop/fetchmail_pop3.py
POSTERN_BIN overrides the binary (default target/debug/postern); with
FETCHMAIL_TRANSCRIPT=1 every fetchmail -v transcript is printed.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import PASSWORD, Postern  # noqa: E402

FETCHMAIL = shutil.which("fetchmail")
USER = "alice@example.test"


def message(n):
    return (
        f"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: fetchmail {n}\r\n\r\n"
        f"body of message {n}\r\n.a line with a leading dot\r\n..two dots\r\n"
        f"\r\nFrom the start of a line\r\nlast line of {n}\r\n"
    ).encode()


MESSAGES = [message(n) for n in (1, 2, 3)]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def body_of(raw):
    """The body of a message, with LF line endings (fetchmail hands an MDA
    LF-only lines)."""
    text = raw.replace(b"\r\n", b"\n")
    return text.split(b"\n\n", 1)[1]


class Fetchmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = None
        if FETCHMAIL is None:
            return
        cls.server = Postern(users=[USER], deliveries=[(USER, raw) for raw in MESSAGES])
        cls.ca = cls.server.ca
        cls.pop3 = cls.server.ports[2110]
        cls.server.wait_for(cls.pop3)
        # fetchmail's home: its lock file, its UID list, its rc files.
        cls.home = os.path.join(cls.server.dir, "fetchmail-home")
        os.mkdir(cls.home, 0o700)

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()

    def setUp(self):
        if FETCHMAIL is None:
            if os.environ.get("CI") == "true":
                self.fail("fetchmail is required under CI=true (apt-get install fetchmail)")
            self.skipTest("fetchmail not installed")

    def stls(self):
        """STLS on the pop3 port (no `ssl`: that would be implicit TLS),
        mandatory, TLS 1.2 or newer, with the server's self-signed
        certificate as the one trust anchor. The certificate names
        localhost, not 127.0.0.1 (fetchmail checks the name it polls), hence
        sslcommonname."""
        return (f'sslproto "tls1.2+" sslcertck sslcertfile "{self.ca}" '
                'sslcommonname "localhost"')

    def fetchmail(self, name, security):
        """Runs fetchmail once in the foreground with an rc file of its own
        and the given TLS options; returns (exit code, transcript, the
        messages its MDA received)."""
        out = os.path.join(self.home, f"{name}.out")
        os.mkdir(out)
        rc = os.path.join(self.home, f"{name}.rc")
        with open(rc, "w") as f:
            f.write(
                f"poll 127.0.0.1 service {self.pop3} protocol pop3 timeout 30\n"
                f'  user "{USER}" password "{PASSWORD}"\n'
                f"  {security}\n"
                "  no keep\n"
                f"  mda \"/bin/sh -c 'cat > $(mktemp {out}/msg.XXXXXX)'\"\n"
            )
        os.chmod(rc, 0o600)  # fetchmail refuses a readable rc file
        env = dict(os.environ, HOME=self.home, FETCHMAILHOME=self.home, LC_ALL="C")
        run = subprocess.run(
            [FETCHMAIL, "-f", rc, "--nodetach", "--nosyslog", "-v"],
            capture_output=True, timeout=120, env=env, cwd=self.home,
        )
        transcript = (run.stdout + run.stderr).decode(errors="replace")
        if os.environ.get("FETCHMAIL_TRANSCRIPT"):
            print(f"\n--- fetchmail {name} (exit {run.returncode}) ---\n{transcript}")
        got = [read_bytes(p) for p in sorted(glob.glob(os.path.join(out, "msg.*")))]
        return run.returncode, transcript, got

    def describe(self, code, transcript):
        return (f"fetchmail exited {code}\n--- transcript ---\n{transcript}"
                f"\n--- postern serve ---\n{self.server.log_text()}")

    def test_1_plain_text_gets_no_login(self):
        # No STLS at all: fetchmail would send the password in clear.
        code, transcript, got = self.fetchmail("plain", "sslproto '' no sslcertck")
        why = self.describe(code, transcript)
        self.assertEqual(code, 3, why)  # AUTHFAIL
        self.assertEqual(got, [], why)
        self.assertIn("POP3< -ERR [AUTH]", transcript, why)
        # Refused at USER: the password never left fetchmail.
        self.assertNotIn("POP3> PASS", transcript, why)

    def test_2_an_untrusted_certificate_stops_fetchmail_before_login(self):
        # The system's trust store does not know the self-signed certificate.
        code, transcript, got = self.fetchmail("untrusted", 'sslproto "tls1.2+" sslcertck')
        why = self.describe(code, transcript)
        self.assertNotIn(code, (0, 1), why)
        self.assertEqual(got, [], why)
        self.assertNotIn("POP3> USER", transcript, why)
        self.assertNotIn("POP3> PASS", transcript, why)

    def test_3_stls_fetches_all_intact_and_deletes(self):
        code, transcript, got = self.fetchmail("first", self.stls())
        why = self.describe(code, transcript)
        self.assertEqual(code, 0, why)
        self.assertIn("POP3> STLS", transcript, why)
        self.assertIn("upgrade to TLS succeeded", transcript, why)
        self.assertEqual(len(got), 3, why)
        bodies = sorted(body_of(raw) for raw in got)
        self.assertEqual(bodies, sorted(body_of(raw) for raw in MESSAGES), why)
        for raw in got:
            # Dot-stuffing undone: the lines come back as they were sent.
            self.assertIn(b"\n.a line with a leading dot\n", raw)
            self.assertIn(b"\n..two dots\n", raw)
        self.assertEqual(len(re.findall(r"POP3> DELE \d+", transcript)), 3, why)
        self.assertIn("POP3> QUIT", transcript, why)
        self.assertIn("3 messages deleted", transcript, why)

    def test_4_second_run_finds_no_mail(self):
        code, transcript, got = self.fetchmail("second", self.stls())
        why = self.describe(code, transcript)
        self.assertEqual(code, 1, why)  # no mail
        self.assertEqual(got, [], why)
        self.assertIn("No mail for", transcript, why)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    note = f", {skipped} skipped" if skipped else ""
    print(f"{result.testsRun - failed - skipped} passed, {failed} failed{note}")
    sys.exit(1 if failed or not result.testsRun else 0)
