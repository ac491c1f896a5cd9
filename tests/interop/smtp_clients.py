#!/usr/bin/env python3
"""SMTP with independent clients against the built `postern` binary:
Python's smtplib (SMTP_SSL on submissions, SMTP + starttls() on
submission and on the MX port), swaks and curl on every listener, and raw
sockets for what a well-behaved client never sends: pipelined plaintext
after STARTTLS, SMTP smuggling, an oversize message, a dropped DATA,
open-relay and sender-spoofing attempts. Messages are read back through
POP3 over TLS: below the trace fields the server adds, every byte must be
the one submitted.

Run by .ci/run after `cargo build`; locally:
    cargo build && python3 tests/interop/smtp_clients.py
POSTERN_BIN overrides the binary (default target/debug/postern);
KEEP_DATA=1 keeps the data directory (and serve.log) for a post-mortem.
"""
import base64
import os
import re
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import (  # noqa: E402
    PASSWORD, TRACE_FIELDS, Postern, Raw, need_program, split_trace,
)

ALICE = "alice@example.test"  # the account that submits
ALIAS = "alice.alias@example.test"  # an alias of alice: hers to send from
BOB = "bob@example.test"
READBACK = "readback@example.test"
MX = "mx@example.test"
SMUGGLE = "smuggle@example.test"
BIG = "big@example.test"
DROP = "drop@example.test"
SWAKS = "swaks@example.test"
CURL = "curl@example.test"
RELAY_VICTIM = "victim@foreign.test"
USERS = [ALICE, BOB, READBACK, MX, SMUGGLE, BIG, DROP, SWAKS, CURL]
# A limit well under the 10 MB default keeps the oversize tests quick.
MAX_SIZE = 1_000_000


def message(subject, eight_bit=False):
    """A message whose bytes a careless server would change: leading dots
    (dot-stuffing), a line of 990 octets (RFC 5321 §4.5.3.1.6 allows 998),
    trailing white space, a tab, a `From ` line, empty lines at the end and,
    with eight_bit, UTF-8 in the body (8BITMIME)."""
    lines = [
        b"From: Alice <alice@example.test>",
        b"To: someone@example.test",
        b"Subject: " + subject.encode(),
        b"Message-ID: <" + subject.replace(" ", ".").encode() + b"@example.test>",
        b"Date: Mon, 02 Jun 2025 10:00:00 +0000",
        b"X-Folded: first part",
        b"\tsecond part after a tab",
        b"",
        b"first line",
        b".a line with a leading dot",
        b"..two leading dots",
        b".",
        b"From the start of a line",
        b"trailing spaces   ",
        b"tab\tinside",
        b"x" * 990,
    ]
    if eight_bit:
        lines.append("caf\u00e9 na\u00efve \u2713".encode())
    lines += [b"last line", b"", b""]
    return b"\r\n".join(lines)


def received_fields(fields):
    return [value for name, value in fields if name == b"received"]


def refusal(call):
    """The (code, text) with which smtplib reports that a sender or every
    recipient was refused; None when the call succeeded."""
    try:
        call()
    except smtplib.SMTPSenderRefused as e:
        return e.smtp_code, e.smtp_error
    except smtplib.SMTPRecipientsRefused as e:
        return next(iter(e.recipients.values()))
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error
    return None


class SmtpClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = Postern(users=USERS, aliases={ALIAS: [ALICE]}, max_message_size=MAX_SIZE)

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SHOW_LOG") == "1":
            print("\n--- serve.log ---\n" + cls.p.log_text()[-20000:])
        cls.p.stop()

    # ---- shared steps ----------------------------------------------------

    def ctx(self):
        return self.p.context()

    def submissions(self):
        s = smtplib.SMTP_SSL("localhost", self.p.submissions, context=self.ctx(), timeout=30)
        s.ehlo("client.example.test")
        return s

    def login(self, s, mechanism="PLAIN", user=ALICE):
        s.user, s.password = user, PASSWORD
        code, text = s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()), initial_response_ok=True)
        self.assertEqual(code, 235, text)

    def raw_authenticated(self):
        """A raw implicit-TLS submission session after EHLO and AUTH PLAIN."""
        r = Raw(self.p.submissions, self.ctx())
        self.assertEqual(r.reply()[0], 220, r.text())
        self.assertEqual(r.command(b"EHLO client.example.test")[0], 250, r.text())
        token = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode())
        self.assertEqual(r.command(b"AUTH PLAIN " + token)[0], 235, r.text())
        return r

    def stored_copy(self, user, original):
        """The one stored message of `user` that ends with `original`, and
        the fields the server put above it."""
        found = [m for m in self.p.messages(user) if m.endswith(original)]
        self.assertEqual(len(found), 1, f"{user} should hold the message once")
        fields = split_trace(found[0], original)
        names = {name for name, _ in fields}
        self.assertTrue(names <= TRACE_FIELDS, f"non-trace fields added above the message: {fields}")
        self.assertTrue(received_fields(fields), "no Received field added (RFC 5321 §4.4)")
        return fields

    def assert_tls_received(self, fields, protocol):
        """RFC 5321 §4.4 / RFC 3848: `with ESMTPS` (TLS) or `with ESMTPSA`
        (TLS and AUTH); RFC 8314 §4.3: the TLS version and cipher."""
        top = received_fields(fields)[0]
        self.assertRegex(top, rb"\bwith " + protocol.encode() + rb"\b", top)
        self.assertRegex(top, rb"TLS ?v?1[._]?[23]|TLSv?1\.[23]", f"no TLS version: {top!r}")
        self.assertRegex(top, rb"AES|CHACHA20", f"no cipher suite: {top!r}")

    def mx_transaction(self, rcpt, sender="sender@remote.test", tls=False, mail_refusable=False):
        """An SMTP session on the MX port up to a RCPT; returns (raw, code,
        lines) of the RCPT, or of the MAIL when mail_refusable and it was
        refused."""
        r = Raw(self.p.smtp)
        self.assertEqual(r.reply()[0], 220, r.text())
        self.assertEqual(r.command(b"EHLO mta.remote.test")[0], 250, r.text())
        if tls:
            self.assertEqual(r.command(b"STARTTLS")[0], 220, r.text())
            r.starttls(self.ctx())
            self.assertEqual(r.command(b"EHLO mta.remote.test")[0], 250, r.text())
        code, lines = r.command(b"MAIL FROM:<" + sender.encode() + b">")
        if mail_refusable and code >= 500:
            return r, code, lines
        self.assertEqual(code, 250, r.text())
        code, lines = r.command(b"RCPT TO:<" + rcpt.encode() + b">")
        return r, code, lines

    def assert_not_queued(self, address):
        listing = self.p.queue_list()
        if listing is None:
            if os.environ.get("CI") == "true":
                self.fail("`postern queue list` is missing")
            return
        self.assertNotIn(address, listing, "a refused recipient was queued")

    # ---- stock clients ----------------------------------------------------

    def test_01_smtp_ssl_auth_plain_reads_back_byte_for_byte(self):
        s = self.submissions()
        auth = s.esmtp_features.get("auth", "").upper().split()
        self.assertIn("PLAIN", auth)
        self.assertIn("LOGIN", auth)
        self.assertNotIn("starttls", s.esmtp_features, "STARTTLS offered under implicit TLS")
        for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking", "dsn", "size"):
            self.assertIn(ext, s.esmtp_features, f"EHLO lacks {ext.upper()}")
        self.login(s, "PLAIN")
        original = message("smtp_ssl plain", eight_bit=True)
        self.assertEqual(s.sendmail(ALICE, [READBACK], original, mail_options=["BODY=8BITMIME"]), {})
        s.quit()
        fields = self.stored_copy(READBACK, original)
        self.assert_tls_received(fields, "ESMTPSA")

    def test_02_starttls_587_auth_login_reads_back_byte_for_byte(self):
        s = smtplib.SMTP("localhost", self.p.submission, timeout=30)
        s.ehlo("client.example.test")
        self.assertIn("starttls", s.esmtp_features)
        self.assertNotIn("auth", s.esmtp_features, "AUTH advertised before STARTTLS")
        code, _ = s.starttls(context=self.ctx())
        self.assertEqual(code, 220)
        s.ehlo("client.example.test")
        self.assertNotIn("starttls", s.esmtp_features, "STARTTLS offered again under TLS")
        self.assertIn("LOGIN", s.esmtp_features.get("auth", "").upper().split())
        self.login(s, "LOGIN")
        original = message("starttls login")
        self.assertEqual(s.sendmail(ALICE, [READBACK], original), {})
        s.quit()
        fields = self.stored_copy(READBACK, original)
        self.assert_tls_received(fields, "ESMTPSA")

    def test_03_mx_port_starttls_without_auth_delivers_locally(self):
        s = smtplib.SMTP("localhost", self.p.smtp, timeout=30)
        s.ehlo("mta.remote.test")
        self.assertIn("starttls", s.esmtp_features)
        self.assertNotIn("auth", s.esmtp_features, "AUTH advertised on the MX port")
        s.starttls(context=self.ctx())
        s.ehlo("mta.remote.test")
        self.assertNotIn("auth", s.esmtp_features, "AUTH advertised on the MX port under TLS")
        original = message("mx starttls", eight_bit=True)
        self.assertEqual(s.sendmail("someone@remote.test", [MX], original, mail_options=["BODY=8BITMIME"]), {})
        s.quit()
        fields = self.stored_copy(MX, original)
        self.assert_tls_received(fields, "ESMTPS")

    def test_04_mx_port_in_clear_delivers_locally(self):
        # RFC 3207 §4: a public MX must not require STARTTLS.
        s = smtplib.SMTP("localhost", self.p.smtp, timeout=30)
        s.ehlo("mta.remote.test")
        original = message("mx clear")
        self.assertEqual(s.sendmail("someone@remote.test", [MX], original), {})
        s.quit()
        fields = self.stored_copy(MX, original)
        top = received_fields(fields)[0]
        self.assertRegex(top, rb"\bwith ESMTP\b", top)

    def test_05_alias_is_a_permitted_sender(self):
        s = self.submissions()
        self.login(s)
        original = message("from the alias")
        self.assertEqual(s.sendmail(ALIAS, [READBACK], original), {})
        s.quit()
        self.stored_copy(READBACK, original)

    def test_06_pipelining_and_bdat(self):
        # RFC 2920: replies in order for a pipelined group; RFC 3030: BDAT
        # chunks are taken as they are, the last one closes the message.
        before = self.p.count(READBACK)
        r = self.raw_authenticated()
        original = message("bdat chunks", eight_bit=True)
        r.send(
            b"MAIL FROM:<" + ALICE.encode() + b"> BODY=8BITMIME\r\n"
            b"RCPT TO:<" + READBACK.encode() + b">\r\n"
            b"BDAT 10\r\n" + original[:10]
            + b"BDAT " + str(len(original) - 10).encode() + b" LAST\r\n" + original[10:]
        )
        codes = [r.reply()[0] for _ in range(4)]
        self.assertEqual(codes, [250, 250, 250, 250], r.text())
        self.assertTrue(r.nothing_more(0.5), r.text())
        self.assertEqual(r.command(b"QUIT")[0], 221, r.text())
        r.close()
        self.assertEqual(self.p.count(READBACK), before + 1)
        self.stored_copy(READBACK, original)

    def test_07_received_tls_clause_names_an_iana_cipher_suite(self):
        # RFC 8314 §7.4: the `tls` clause's value is a cipher suite name of
        # the IANA TLS Cipher Suites registry (TLS_AES_256_GCM_SHA384 for
        # TLS 1.3, TLS_ECDHE_..._WITH_... for 1.2), not a library's own name.
        s = self.submissions()
        self.login(s)
        original = message("tls clause")
        self.assertEqual(s.sendmail(ALICE, [READBACK], original), {})
        s.quit()
        top = received_fields(self.stored_copy(READBACK, original))[0]
        clause = re.search(rb"\btls ([A-Za-z0-9_]+)", top)
        self.assertIsNotNone(clause, f"no tls clause: {top!r}")
        self.assertRegex(clause.group(1), rb"^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256|"
                         rb"ECDHE_(ECDSA|RSA)_WITH_[A-Z0-9_]+)$", top)

    def test_08_received_names_only_its_own_recipient(self):
        # Two recipients in one transaction: neither copy may name the
        # other in its trace field (a Bcc recipient would be disclosed).
        s = self.submissions()
        self.login(s)
        original = message("two recipients")
        self.assertEqual(s.sendmail(ALICE, [READBACK, MX], original), {})
        s.quit()
        for me, other in ((READBACK, MX), (MX, READBACK)):
            fields = self.stored_copy(me, original)
            for name, value in fields:
                self.assertNotIn(other.encode(), value, f"{me}'s copy names {other}: {value!r}")

    # ---- security --------------------------------------------------------

    def test_10_auth_not_offered_before_starttls_and_refused(self):
        token = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode()).decode()
        s = smtplib.SMTP("localhost", self.p.submission, timeout=30)
        s.ehlo("client.example.test")
        self.assertNotIn("auth", s.esmtp_features)
        code, text = s.docmd("AUTH", "PLAIN " + token)
        self.assertIn(code, (530, 503), text)
        code, text = s.docmd("AUTH", "LOGIN")
        self.assertIn(code, (530, 503), text)
        s.quit()
        # Never on the MX port, in clear or under TLS (RFC 6409 §4.3: AUTH
        # belongs to submission).
        s = smtplib.SMTP("localhost", self.p.smtp, timeout=30)
        s.ehlo("mta.remote.test")
        code, text = s.docmd("AUTH", "PLAIN " + token)
        self.assertGreaterEqual(code, 500, text)
        s.starttls(context=self.ctx())
        s.ehlo("mta.remote.test")
        self.assertNotIn("auth", s.esmtp_features)
        code, text = s.docmd("AUTH", "PLAIN " + token)
        self.assertGreaterEqual(code, 500, text)
        s.quit()

    def check_starttls_injection(self, port):
        r = Raw(port)
        try:
            self.assertEqual(r.reply()[0], 220, r.text())
            self.assertEqual(r.command(b"EHLO client.example.test")[0], 250, r.text())
            # RFC 3207 §4.2 / CVE-2011-0411: the RSET travels in the same
            # segment as STARTTLS; it must not be answered in clear...
            r.send(b"STARTTLS\r\nRSET\r\n")
            code, _ = r.reply()
            self.assertEqual(code, 220, r.text())
            self.assertEqual(r.buf, b"", f"answered in clear after the 220: {r.text()}")
            self.assertTrue(r.nothing_more(0.5), f"answered in clear after the 220: {r.text()}")
            try:
                r.starttls(self.ctx())
            except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
                # Closing the connection instead of the handshake is a
                # defence too: the RSET was never answered.
                return
            # ... nor under TLS: the first thing the server says is the
            # answer to our EHLO, and the EHLO state was reset.
            self.assertTrue(r.nothing_more(0.7), f"the injected RSET was answered under TLS: {r.text()}")
            code, lines = r.command(b"EHLO client.example.test")
            self.assertEqual(code, 250, r.text())
            self.assertGreater(len(lines), 1, f"the first reply under TLS is not the EHLO's: {r.text()}")
            self.assertTrue(r.nothing_more(0.5), r.text())
            self.assertEqual(r.command(b"QUIT")[0], 221, r.text())
        finally:
            r.close()

    def test_11_starttls_injection_not_executed_on_submission(self):
        self.check_starttls_injection(self.p.submission)

    def test_12_starttls_injection_not_executed_on_mx(self):
        self.check_starttls_injection(self.p.smtp)

    def test_13_mail_before_auth_refused_on_submission(self):
        s = smtplib.SMTP("localhost", self.p.submission, timeout=30)
        s.ehlo("client.example.test")
        code, text = s.mail(ALICE)
        self.assertEqual(code, 530, text)
        s.starttls(context=self.ctx())
        s.ehlo("client.example.test")
        code, text = s.mail(ALICE)
        self.assertEqual(code, 530, text)
        code, text = s.rcpt(READBACK)
        self.assertNotEqual(code // 100, 2, text)
        s.quit()
        s = self.submissions()
        code, text = s.mail(ALICE)
        self.assertEqual(code, 530, text)
        s.quit()

    def test_14_open_relay_refused_on_mx(self):
        attempts = [
            ("sender@remote.test", RELAY_VICTIM, False),
            ("sender@remote.test", RELAY_VICTIM, True),
            # A local sender gives no right to relay either.
            (ALICE, RELAY_VICTIM, False),
            # The old tricks: a percent hack and a source route (RFC 5321
            # §3.6.1 lets a server ignore the route: it then names the
            # foreign mailbox).
            ("sender@remote.test", "victim%foreign.test@example.test", False),
            ("sender@remote.test", "@example.test:victim@foreign.test", False),
            ("sender@remote.test", "victim@foreign.test@example.test", False),
        ]
        for sender, rcpt, tls in attempts:
            with self.subTest(sender=sender, rcpt=rcpt, tls=tls):
                # A server may refuse a local sender from outside at MAIL.
                r, code, lines = self.mx_transaction(rcpt, sender, tls, mail_refusable=sender == ALICE)
                try:
                    if rcpt == RELAY_VICTIM and sender != ALICE:
                        self.assertIn(code, (550, 554), r.text())
                    else:
                        self.assertGreaterEqual(code, 500, r.text())
                    code, _ = r.command(b"DATA")
                    self.assertGreaterEqual(code, 500, r.text())
                finally:
                    r.close()
        self.assert_not_queued("foreign.test")

    def test_15_open_relay_refused_on_submission_without_auth(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                s = smtplib.SMTP("localhost", self.p.submission, timeout=30)
                s.ehlo("client.example.test")
                if tls:
                    s.starttls(context=self.ctx())
                    s.ehlo("client.example.test")
                got = refusal(lambda: s.sendmail(ALICE, [RELAY_VICTIM], message("relay")))
                self.assertIsNotNone(got, "an unauthenticated client relayed")
                self.assertEqual(got[0] // 100, 5, got)
                s.quit()
        self.assert_not_queued("foreign.test")

    def test_16_sender_spoofing_by_an_authenticated_user_refused(self):
        before = self.p.count(BOB)
        for forged in (BOB, "ceo@foreign.test", "alice@example.test.foreign.test"):
            with self.subTest(sender=forged):
                s = self.submissions()
                self.login(s)
                got = refusal(lambda: s.sendmail(forged, [BOB], message("spoofed")))
                self.assertIsNotNone(got, f"alice sent as {forged}")
                self.assertEqual(got[0], 553, got)
                s.quit()
        self.assertEqual(self.p.count(BOB), before)
        self.assert_not_queued("ceo@foreign.test")

    def test_17_unknown_local_recipient_550_5_1_1_on_mx(self):
        r, code, lines = self.mx_transaction("nobody@example.test")
        try:
            self.assertEqual(code, 550, r.text())
            self.assertTrue(lines[-1][4:].startswith(b"5.1.1"), r.text())
            # The transaction stays usable for the valid recipients.
            code, _ = r.command(b"RCPT TO:<" + MX.encode() + b">")
            self.assertEqual(code, 250, r.text())
            self.assertEqual(r.command(b"RSET")[0], 250, r.text())
        finally:
            r.close()

    def test_17b_postmaster_is_accepted(self):
        # RFC 5321 §4.5.1: every SMTP server that delivers mail MUST accept
        # "postmaster" (case-insensitive) at each of its domains and the
        # bare RCPT TO:<Postmaster>.
        for rcpt in ("Postmaster", "postmaster@example.test", "POSTMASTER@example.test"):
            with self.subTest(rcpt=rcpt):
                r, code, _ = self.mx_transaction(rcpt)
                try:
                    self.assertEqual(code, 250, r.text())
                finally:
                    r.close()

    def test_17c_repeated_recipients_get_one_copy(self):
        before = self.p.count(MX)
        r, code, _ = self.mx_transaction(MX)
        try:
            self.assertEqual(code, 250, r.text())
            for rcpt in (MX, MX.upper()):
                self.assertEqual(r.command(b"RCPT TO:<" + rcpt.encode() + b">")[0], 250, r.text())
            self.assertEqual(r.command(b"DATA")[0], 354, r.text())
            r.send(b"Subject: three times\r\n\r\nonce\r\n.\r\n")
            self.assertEqual(r.reply()[0], 250, r.text())
        finally:
            r.close()
        self.assertEqual(self.p.count(MX), before + 1)

    def test_18_from_header_spoofing_by_an_authenticated_user_refused(self):
        # The envelope is alice's; the From field readers see is not.
        before = self.p.count(BOB)
        headers = [
            b"From: bob@example.test",
            b"From: Bob <bob@example.test>",
            b'From: "alice@example.test" <bob@example.test>',
            b"From: bob@example.test (alice@example.test)",
            b"FROM: bob@example.test",
            b"From:bob@example.test",
            b"From: =?utf-8?q?Alice?= <bob@example.test>",
            b"From: alice@example.test, bob@example.test",
            b"From: friends: bob@example.test;",
            b"From: <bob@example.test>\r\nFrom: <alice@example.test>",
            b"From: <alice@example.test>\r\nFrom: <bob@example.test>",
            b"From: Alice\r\n <bob@example.test>",
            b"From: <\"bob\"@example.test>",
            b"From: <BOB@example.test>",
        ]
        for header in headers:
            with self.subTest(header=header):
                s = self.submissions()
                self.login(s)
                body = header + b"\r\nTo: bob@example.test\r\nSubject: forged from\r\n\r\nhello\r\n"
                got = refusal(lambda: s.sendmail(ALICE, [BOB], body))
                self.assertIsNotNone(got, f"accepted with {header!r}")
                self.assertEqual(got[0], 553, got)
                s.quit()
        self.assertEqual(self.p.count(BOB), before, "a forged From was delivered")

    def test_18b_from_header_spoofing_through_bdat_line_ends(self):
        # BDAT is binary-clean (RFC 3030), so a bare LF can reach the
        # header: a reader that ends lines at LF sees a From field that a
        # CRLF-only parser folds into the field above.
        before = self.p.count(BOB)
        heads = [
            b"X-Dummy: a\nFrom: <bob@example.test>\r\nSubject: lf\r\n\r\n",
            b"From: <alice@example.test>\r\nX-Dummy: a\nFrom: <bob@example.test>\r\nSubject: lf\r\n\r\n",
            b"X-Dummy: a\rFrom: <bob@example.test>\r\nSubject: cr\r\n\r\n",
            b"From : <bob@example.test>\r\nSubject: obs\r\n\r\n",
        ]
        for head in heads:
            with self.subTest(head=head):
                msg = head + b"hello\r\n"
                r = self.raw_authenticated()
                try:
                    self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
                    self.assertEqual(r.command(b"RCPT TO:<" + BOB.encode() + b">")[0], 250, r.text())
                    r.send(b"BDAT " + str(len(msg)).encode() + b" LAST\r\n" + msg)
                    code, _ = r.reply()
                    self.assertGreaterEqual(code, 500, r.text())
                finally:
                    r.close()
        self.assertEqual(self.p.count(BOB), before, "a forged From was delivered")

    def test_19_envelope_sender_look_alikes_refused(self):
        before = self.p.count(BOB)
        for forged in ('"bob"@example.test', "BOB@example.test", "bob@EXAMPLE.TEST",
                       '"alice@example.test"@foreign.test', "alice@example.test@foreign.test",
                       "@example.test:bob@example.test", ""):
            with self.subTest(sender=forged):
                r = self.raw_authenticated()
                try:
                    code, _ = r.command(b"MAIL FROM:<" + forged.encode() + b">")
                    if code == 250:
                        code, _ = r.command(b"RCPT TO:<" + BOB.encode() + b">")
                    if code == 250:
                        code, _ = r.command(b"DATA")
                        if code == 354:
                            r.send(b"From: <alice@example.test>\r\nSubject: look-alike\r\n\r\nhi\r\n.\r\n")
                            code, _ = r.reply()
                    self.assertGreaterEqual(code, 500, r.text())
                finally:
                    r.close()
        self.assertEqual(self.p.count(BOB), before, "a look-alike sender was delivered")

    def test_1a_ehlo_state_reset_after_starttls(self):
        # RFC 3207 §4.2: after the handshake the server forgets the EHLO;
        # a second STARTTLS is refused.
        r = Raw(self.p.smtp)
        try:
            self.assertEqual(r.reply()[0], 220, r.text())
            self.assertEqual(r.command(b"EHLO mta.remote.test")[0], 250, r.text())
            self.assertEqual(r.command(b"STARTTLS")[0], 220, r.text())
            r.starttls(self.ctx())
            self.assertEqual(r.command(b"MAIL FROM:<a@remote.test>")[0], 503, r.text())
            self.assertEqual(r.command(b"EHLO mta.remote.test")[0], 250, r.text())
            self.assertGreaterEqual(r.command(b"STARTTLS")[0], 500, r.text())
        finally:
            r.close()

    SMUGGLING = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r.\r\n"]

    def test_20_smuggling_variants_never_split_a_message(self):
        # The trick of SMTP smuggling (2023): an end of data the receiver
        # accepts but the sender's server did not mean, followed by a
        # second transaction inside the body. Only CRLF.CRLF ends DATA
        # (RFC 5321 §4.1.1.4): the whole is one message, or refused whole.
        for sep in self.SMUGGLING:
            with self.subTest(separator=sep):
                before = self.p.count(SMUGGLE)
                r, code, _ = self.mx_transaction(SMUGGLE)
                try:
                    self.assertEqual(code, 250, r.text())
                    self.assertEqual(r.command(b"DATA")[0], 354, r.text())
                    r.send(
                        b"From: a@remote.test\r\nTo: smuggle@example.test\r\nSubject: outer\r\n\r\n"
                        b"first part" + sep
                        + b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<" + SMUGGLE.encode() + b">\r\n"
                        b"DATA\r\nFrom: admin@example.test\r\nSubject: smuggled\r\n\r\n"
                        b"second part\r\n.\r\n"
                    )
                    code, _ = r.reply()
                    self.assertIn(code // 100, (2, 5), r.text())
                    self.assertTrue(r.nothing_more(1.0), f"more than one reply to one DATA: {r.text()}")
                    self.assertEqual(r.command(b"QUIT")[0], 221, r.text())
                finally:
                    r.close()
                after = self.p.messages(SMUGGLE)
                self.assertLessEqual(len(after) - before, 1, r.text())
                for m in after:
                    if b"Subject: smuggled" in m:
                        self.assertIn(b"first part", m, "the smuggled message stands alone")
        # The mailbox takes mail: the counts above measure something.
        r, code, _ = self.mx_transaction(SMUGGLE)
        self.assertEqual(code, 250, r.text())
        self.assertEqual(r.command(b"DATA")[0], 354, r.text())
        count = self.p.count(SMUGGLE)
        r.send(b"Subject: control\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250, r.text())
        r.close()
        self.assertEqual(self.p.count(SMUGGLE), count + 1)

    def oversize(self, limit):
        line = b"y" * 998 + b"\r\n"
        return b"Subject: big\r\n\r\n" + line * (limit // len(line) + 64)

    def advertised_size(self, s):
        self.assertIn("size", s.esmtp_features)
        limit = int(s.esmtp_features["size"])
        self.assertEqual(limit, MAX_SIZE, "SIZE is not the configured max_message_size")
        return limit

    def test_21_oversize_declared_with_size_refused_at_mail(self):
        before = self.p.count(BIG)
        s = self.submissions()
        self.login(s)
        big = self.oversize(self.advertised_size(s))
        # smtplib declares SIZE=n itself when the server offers SIZE.
        got = refusal(lambda: s.sendmail(ALICE, [BIG], big))
        self.assertIsNotNone(got, "an oversize message was accepted")
        self.assertEqual(got[0], 552, got)
        s.quit()
        self.assertEqual(self.p.count(BIG), before)

    def test_22_oversize_without_size_refused_after_data_and_not_stored(self):
        before = self.p.count(BIG)
        s = self.submissions()
        self.login(s)
        big = self.oversize(self.advertised_size(s))
        self.assertEqual(s.mail(ALICE)[0], 250)
        self.assertEqual(s.rcpt(BIG)[0], 250)
        code, text = s.data(big)
        self.assertEqual(code, 552, text)
        # The session survives and the transaction was reset (RFC 1870 §6.3).
        self.assertEqual(s.noop()[0], 250)
        small = message("after the big one")
        self.assertEqual(s.sendmail(ALICE, [BIG], small), {})
        s.quit()
        stored = self.p.messages(BIG)
        self.assertEqual(len(stored), before + 1)
        self.assertTrue(stored[-1].endswith(small))

    def test_24_size_limit_is_exact(self):
        # RFC 1870: the limit counts the message's octets as sent after
        # dot-unstuffing, CRLFs included. MAX_SIZE fits, one more does not.
        before = self.p.count(BIG)
        for size, accepted in ((MAX_SIZE, True), (MAX_SIZE + 1, False)):
            with self.subTest(size=size):
                head = b"From: <alice@example.test>\r\nSubject: exact\r\n\r\n"
                line = b"z" * 98 + b"\r\n"
                body = line * ((size - len(head)) // len(line))
                rest = size - len(head) - len(body)
                body += b"z" * (rest - 2) + b"\r\n" if rest >= 2 else b""
                msg = head + body
                self.assertEqual(len(msg), size)
                r = self.raw_authenticated()
                try:
                    self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
                    self.assertEqual(r.command(b"RCPT TO:<" + BIG.encode() + b">")[0], 250, r.text())
                    self.assertEqual(r.command(b"DATA")[0], 354, r.text())
                    r.send(msg + b".\r\n")
                    code, _ = r.reply()
                    self.assertEqual(code, 250 if accepted else 552, r.text()[-500:])
                finally:
                    r.close()
        self.assertEqual(self.p.count(BIG), before + 1)

    def test_25_bdat_oversize_and_dropped_bdat(self):
        before = self.p.count(BIG)
        r = self.raw_authenticated()
        try:
            self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
            self.assertEqual(r.command(b"RCPT TO:<" + BIG.encode() + b">")[0], 250, r.text())
            chunk = b"Subject: big bdat\r\n\r\n" + b"b" * (MAX_SIZE // 2)
            r.send(b"BDAT " + str(len(chunk)).encode() + b"\r\n" + chunk)
            self.assertEqual(r.reply()[0], 250, r.text())
            r.send(b"BDAT " + str(len(chunk)).encode() + b" LAST\r\n" + chunk)
            self.assertEqual(r.reply()[0], 552, r.text()[-500:])
            self.assertEqual(r.command(b"NOOP")[0], 250, r.text()[-500:])
        finally:
            r.close()
        r = self.raw_authenticated()
        self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
        self.assertEqual(r.command(b"RCPT TO:<" + BIG.encode() + b">")[0], 250, r.text())
        r.send(b"BDAT 5000 LAST\r\nSubject: cut\r\n\r\n" + b"c" * 1000)
        r.close()
        time.sleep(1.5)
        self.assertEqual(self.p.count(BIG), before, "an oversize or cut BDAT message was stored")

    def test_23_dropped_connection_mid_data_delivers_nothing(self):
        head = b"From: a@remote.test\r\nSubject: dropped\r\n\r\n" + b"line\r\n" * 1000
        endings = {
            "half a message": (head, False),
            "all but the final dot": (head + b"last\r\n", False),
            "CRLF dot without the CRLF": (head + b"last\r\n.", False),
            "reset instead of FIN": (head, True),
        }
        for name, (data, reset) in endings.items():
            with self.subTest(ending=name):
                r, code, _ = self.mx_transaction(DROP)
                self.assertEqual(code, 250, r.text())
                self.assertEqual(r.command(b"DATA")[0], 354, r.text())
                r.send(data)
                if reset:
                    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                r.close()
        time.sleep(1.5)
        self.assertEqual(self.p.count(DROP), 0, "a dropped DATA was delivered")
        # Same on submission under TLS.
        r = self.raw_authenticated()
        self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
        self.assertEqual(r.command(b"RCPT TO:<" + DROP.encode() + b">")[0], 250, r.text())
        self.assertEqual(r.command(b"DATA")[0], 354, r.text())
        r.send(head)
        r.close()
        time.sleep(1.5)
        self.assertEqual(self.p.count(DROP), 0, "a dropped DATA was delivered")

    # ---- swaks -------------------------------------------------------------

    def swaks(self, rcpt, subject, *args):
        swaks = need_program(self, "swaks")
        out = subprocess.run(
            [swaks, "--server", "localhost", "--tls-verify", "--tls-ca-path", self.p.ca,
             "--to", rcpt, "--header", f"Subject: {subject}",
             "--body", "swaks body\n.leading dot\nend", "--timeout", "30", *args],
            capture_output=True, timeout=60,
        )
        transcript = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
        self.assertEqual(out.returncode, 0, transcript)
        self.assertRegex(transcript, r"<~?\s+250[ -]2\.0\.0", transcript)
        stored = [m for m in self.p.messages(rcpt) if f"Subject: {subject}".encode() in m]
        self.assertEqual(len(stored), 1, transcript)
        # swaks dot-stuffs the line; the store holds it unstuffed.
        self.assertIn(b"\r\n.leading dot\r\n", stored[0])
        return transcript, stored[0]

    def test_30_swaks_starttls_auth_plain_on_submission(self):
        transcript, stored = self.swaks(
            SWAKS, "swaks 587", "--port", str(self.p.submission), "--tls",
            "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", PASSWORD, "--from", ALICE,
        )
        self.assertIn("STARTTLS", transcript)
        self.assertRegex(stored, rb"with ESMTPSA\b")

    def test_31_swaks_implicit_tls_auth_login_on_submissions(self):
        transcript, stored = self.swaks(
            SWAKS, "swaks 465", "--port", str(self.p.submissions), "--tlsc",
            "--auth", "LOGIN", "--auth-user", ALICE, "--auth-password", PASSWORD, "--from", ALICE,
        )
        self.assertRegex(stored, rb"with ESMTPSA\b")

    def test_32_swaks_starttls_on_mx(self):
        transcript, stored = self.swaks(
            SWAKS, "swaks 25", "--port", str(self.p.smtp), "--tls", "--from", "swaks@remote.test",
            "--ehlo", "mta.remote.test",
        )
        self.assertRegex(stored, rb"with ESMTPS\b")

    def test_33_swaks_auth_on_mx_fails(self):
        swaks = need_program(self, "swaks")
        out = subprocess.run(
            [swaks, "--server", "localhost", "--port", str(self.p.smtp), "--tls",
             "--tls-verify", "--tls-ca-path", self.p.ca, "--to", SWAKS, "--from", ALICE,
             "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", PASSWORD,
             "--timeout", "30"],
            capture_output=True, timeout=60,
        )
        self.assertNotEqual(out.returncode, 0, out.stdout.decode(errors="replace"))

    # ---- curl ------------------------------------------------------------

    def curl(self, url, rcpt, original, *args, sender=ALICE):
        curl = need_program(self, "curl")
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(original)
            f.flush()
            out = subprocess.run(
                [curl, "-sS", "--cacert", self.p.ca, url, "--mail-from", sender,
                 "--mail-rcpt", rcpt, "--upload-file", f.name, *args],
                capture_output=True, timeout=60,
            )
        self.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
        return self.stored_copy(rcpt, original)

    def test_40_curl_smtps_on_submissions(self):
        original = message("curl smtps")
        fields = self.curl(f"smtps://localhost:{self.p.submissions}", CURL, original,
                           "--user", f"{ALICE}:{PASSWORD}")
        self.assert_tls_received(fields, "ESMTPSA")

    def test_41_curl_starttls_on_submission(self):
        original = message("curl starttls 587")
        fields = self.curl(f"smtp://localhost:{self.p.submission}", CURL, original,
                           "--ssl-reqd", "--user", f"{ALICE}:{PASSWORD}")
        self.assert_tls_received(fields, "ESMTPSA")

    def test_42_curl_starttls_on_mx(self):
        original = message("curl starttls 25")
        fields = self.curl(f"smtp://localhost:{self.p.smtp}", CURL, original, "--ssl-reqd",
                           sender="curl@remote.test")
        self.assert_tls_received(fields, "ESMTPS")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    # A test with failing subtests counts once.
    failed = len({getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors})
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
