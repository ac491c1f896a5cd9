#!/usr/bin/env python3
"""Server to server over loopback with Postfix (the Debian package) as
the peer, both ways, each proven from both sides:

- Postfix delivers into Postern's MX port over STARTTLS with the
  certificate verified (smtp_tls_security_level = verify against
  Postern's certificate): Postfix logs `Verified TLS connection
  established to`, and the message Postern stores carries a Received
  field with `ESMTPS` and the TLS version.
- Postern's queue delivers to Postfix over STARTTLS through a static
  route, trusting a throw-away CA that signed Postfix's certificate:
  Postfix logs `TLS connection established from`, and its maildir copy
  has Postfix's Received field `(using TLSv1.x with cipher ...)`.

Postfix runs as a private instance: its own configuration and queue
directory in a temporary directory, listening on a free 127.0.0.1 port
only, started with `postfix -c DIR start` and stopped with `postfix -c
DIR stop` (then by the PID it wrote, if it lingers). The system's
Postfix, if any, is not touched. A first class checks that instance
without Postern (Python's smtplib as the sending client, a small STARTTLS
server in this file as the receiving one), so a failure in the second
class points at Postern, not at the harness.

Run by .ci/run after `cargo build`, as root (Postfix's master needs it);
locally:
    cargo build && python3 tests/interop/postfix_smtp.py
POSTERN_BIN overrides the binary; KEEP_DATA=1 keeps both directories.
"""
import base64
import os
import pwd
import grp
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import (  # noqa: E402
    PASSWORD, Postern, Raw, free_port, need_program, split_trace,
)

ALICE = "alice@example.test"  # a Postern account
BOB = "bob@remote.test"  # a Postfix mailbox
LATER = "later@remote.test"  # a Postfix mailbox that answers 451 until told otherwise
NOBODY = "nobody@remote.test"  # unknown to Postfix: 550 5.1.1
POSTFIX_HOSTNAME = "mx.remote.test"


def wait_until(what, predicate, timeout=60, detail=lambda: ""):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{detail()}")
        time.sleep(0.25)


def make_ca(directory):
    """A throw-away CA and a server certificate it signed, for localhost
    and 127.0.0.1 (what a static route to 127.0.0.1 is checked against).
    Returns (ca.crt, server.crt, server.key)."""
    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr, crt = (os.path.join(directory, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write(
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
        )
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)  # noqa: E731
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=Postern interop test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


class StandIn:
    """A small receiving SMTP server with STARTTLS, standing in for Postern
    to check the Postfix client's configuration: it records each message
    with the TLS version it came over."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.messages = []  # (tls version or None, mail from, [rcpt], data)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.sock.close()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        tls = None
        f = conn.makefile("rb")
        send = lambda b: conn.sendall(b)  # noqa: E731
        try:
            send(b"220 standin.test ESMTP\r\n")
            mail, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    send(b"250-standin.test\r\n" + (b"" if tls else b"250-STARTTLS\r\n") + b"250 8BITMIME\r\n")
                elif line.upper().startswith(b"STARTTLS"):
                    send(b"220 2.0.0 go ahead\r\n")
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                    send = conn.sendall
                    f = conn.makefile("rb")
                    tls = conn.version()
                elif verb == b"MAIL":
                    mail, rcpts = line, []
                    send(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    rcpts.append(line)
                    send(b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    send(b"354 go ahead\r\n")
                    data = b""
                    while True:
                        dl = f.readline()
                        if dl in (b".\r\n", b""):
                            break
                        data += dl[1:] if dl.startswith(b".") else dl
                    self.messages.append((tls, mail, rcpts, data))
                    send(b"250 2.0.0 stored\r\n")
                elif verb == b"QUIT":
                    send(b"221 2.0.0 bye\r\n")
                    return
                elif verb in (b"RSET", b"NOOP"):
                    send(b"250 2.0.0 ok\r\n")
                else:
                    send(b"502 5.5.1 not here\r\n")
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()


class Postfix:
    """A private Postfix instance in a temporary directory: one smtpd on
    127.0.0.1:port (STARTTLS offered with the given certificate), a
    virtual maildir for bob@remote.test, and mail for example.test sent to
    [127.0.0.1]:dest_port with smtp_tls_security_level = verify against
    dest_ca (the certificate must name `localhost`)."""

    def __init__(self, port, dest_port, dest_ca, cert, key, extra=""):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="postfix-interop-")
        self.started = False
        # Postfix's daemons run as the postfix user and the maildir
        # writer as nobody: they need to cross into the directory.
        os.chmod(self.dir, 0o755)
        d = self.dir
        self.etc, self.spool, self.data, self.mail = (os.path.join(d, n) for n in ("etc", "spool", "data", "mail"))
        self.maillog = os.path.join(d, "maillog")
        for path in (self.etc, self.spool, self.data, self.mail):
            os.mkdir(path)
        postfix_user = pwd.getpwnam("postfix")
        nobody = pwd.getpwnam("nobody")
        os.chown(self.data, postfix_user.pw_uid, postfix_user.pw_gid)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        grp.getgrnam("postdrop")  # the setgid group the package creates
        tls_dir = os.path.join(d, "tls")
        os.mkdir(tls_dir)
        for src in (cert, key, dest_ca):
            shutil.copy(src, tls_dir)
        cert, key, dest_ca = (os.path.join(tls_dir, os.path.basename(p)) for p in (cert, key, dest_ca))
        main_cf = f"""\
# A private instance for the interop test: nothing outside {d}.
compatibility_level = 3.6
queue_directory = {self.spool}
data_directory = {self.data}
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {d}
maillog_file = {self.maillog}
myhostname = {POSTFIX_HOSTNAME}
mydomain = remote.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_bind_address = 127.0.0.1
mynetworks = 127.0.0.0/8
# Keep submitted headers as they are: only the Received field is added.
local_header_rewrite_clients =
alias_maps =
alias_database =
local_transport = error:local delivery is disabled
local_recipient_maps =
virtual_mailbox_domains = remote.test
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = texthash:{self.etc}/vmailbox
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
transport_maps = texthash:{self.etc}/transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# A temporary failure on demand (RFC 5321 §4.2.1), for the retry test.
smtpd_recipient_restrictions = check_recipient_access texthash:{self.etc}/access
smtputf8_enable = yes
# Inbound TLS: offered, logged, and written into the Received field.
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
# Outbound TLS: required and verified, the name checked is localhost.
smtp_tls_security_level = verify
smtp_tls_verify_cert_match = localhost
smtp_tls_CAfile = {dest_ca}
smtp_tls_loglevel = 1
# Retry soon: the test waits for the outcome.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
{extra}"""
        master_cf = f"""\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        files = {
            "main.cf": main_cf,
            "master.cf": master_cf,
            "vmailbox": f"{BOB} remote.test/bob/\n{LATER} remote.test/later/\n",
            "access": f"{LATER} 451 4.7.1 Try again later\n",
            "transport": f"example.test smtp:[127.0.0.1]:{dest_port}\n",
        }
        for name, text in files.items():
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)
        try:
            self.postfix("check")
            self.started = True
            self.postfix("start")
            wait_until("Postfix's smtpd", self.listening, 20, self.log)
        except BaseException:
            self.stop()
            raise

    def postfix(self, *args):
        out = subprocess.run(["postfix", "-c", self.etc, *args], capture_output=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(
                f"postfix {' '.join(args)} failed: {out.stdout.decode()}{out.stderr.decode()}\n{self.log()}"
            )

    def accept_later(self):
        """From now on, accept mail for LATER too."""
        with open(os.path.join(self.etc, "access"), "w") as f:
            f.write("")
        self.postfix("reload")

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.started:
            pid = self.master_pid()
            try:
                self.postfix("stop")
            except AssertionError as e:
                print(e, file=sys.stderr)
            if pid is not None:
                deadline = time.time() + 15
                while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                    time.sleep(0.1)
                if os.path.exists(f"/proc/{pid}"):
                    # Still there: this is the master we started.
                    os.kill(pid, signal.SIGKILL)
            self.started = False
        if os.environ.get("KEEP_DATA") == "1":
            print(f"Postfix instance kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def delivered(self, address=BOB):
        """The messages in a maildir of the instance."""
        new = os.path.join(self.mail, "remote.test", address.split("@")[0], "new")
        out = []
        if os.path.isdir(new):
            for name in sorted(os.listdir(new)):
                with open(os.path.join(new, name), "rb") as f:
                    out.append(f.read())
        return out


def message(subject, sender="someone@remote.test"):
    return (
        f"From: <{sender}>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@remote.test>\r\n\r\n"
        f"body of {subject}\r\n.a leading dot\r\nlast line\r\n"
    ).encode()


def need_postfix(test):
    need_program(test, "postfix")
    need_program(test, "openssl")
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            test.fail("the Postfix test runs as root under CI=true (Postfix's master needs it)")
        test.skipTest("Postfix's master needs root")


class PostfixAlone(unittest.TestCase):
    """The private instance itself, before Postern is involved."""

    def setUp(self):
        need_postfix(self)
        self.tmp = tempfile.mkdtemp(prefix="postfix-ca-")
        self.ca, self.cert, self.key = make_ca(self.tmp)
        self.standin = StandIn(self.cert, self.key)
        self.postfix = Postfix(free_port(), self.standin.port, self.ca, self.cert, self.key)

    def tearDown(self):
        self.postfix.stop()
        self.standin.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_1_postfix_receives_over_starttls_and_says_so(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        s = smtplib.SMTP("localhost", self.postfix.port, timeout=30)
        s.starttls(context=ctx)
        self.assertEqual(s.sendmail("someone@example.test", [BOB], message("to postfix")), {})
        s.quit()
        stored = wait_until("the maildir copy", self.postfix.delivered, 30, self.postfix.log)
        self.assertIn(b"Subject: to postfix", stored[0])
        self.assertRegex(stored[0].split(b"\n\n")[0], rb"\(using TLSv1\.[23] with cipher")
        self.assertRegex(self.postfix.log(), r"TLS connection established from localhost\[127\.0\.0\.1\]")

    def test_2_postfix_sends_over_verified_starttls(self):
        s = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        self.assertEqual(s.sendmail("someone@remote.test", [ALICE], message("from postfix")), {})
        s.quit()
        got = wait_until("the stand-in's copy", lambda: self.standin.messages, 30, self.postfix.log)
        tls, _, rcpts, data = got[0]
        self.assertIn(tls, ("TLSv1.2", "TLSv1.3"))
        self.assertIn(ALICE.encode(), rcpts[0])
        self.assertTrue(data.endswith(message("from postfix")))
        self.assertRegex(self.postfix.log(), r"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]")

    def test_3_postfix_refuses_an_unverified_peer(self):
        # The verify level is real: a peer with a certificate of another
        # CA gets nothing.
        other = tempfile.mkdtemp(prefix="postfix-other-ca-")
        try:
            _, cert, key = make_ca(other)
            self.standin.close()
            self.standin = StandIn(cert, key)
            self.postfix.stop()
            self.postfix = Postfix(free_port(), self.standin.port, self.ca, self.cert, self.key)
            s = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
            s.sendmail("someone@remote.test", [ALICE], message("unverified"))
            s.quit()
            wait_until("Postfix's verdict", lambda: re.search(
                r"certificate verification failed|Server certificate not verified", self.postfix.log()),
                30, self.postfix.log)
            self.assertEqual(self.standin.messages, [])
        finally:
            shutil.rmtree(other, ignore_errors=True)


    def test_4_postfix_answers_4xx_and_5xx_on_demand(self):
        s = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        s.ehlo("client.example.test")
        self.assertEqual(s.mail("someone@example.test")[0], 250)
        self.assertEqual(s.rcpt(LATER)[0], 451)
        self.assertEqual(s.rcpt(NOBODY)[0], 550)
        s.quit()
        self.postfix.accept_later()
        s = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        s.ehlo("client.example.test")
        self.assertEqual(s.mail("someone@example.test")[0], 250)
        self.assertEqual(s.rcpt(LATER)[0], 250)
        s.quit()


class PostfixAndPostern(unittest.TestCase):
    """Each test has its own Postern and Postfix: the first needs nothing
    of Postern's outbound configuration, the second adds it."""

    def setUp(self):
        need_postfix(self)
        self.postern = self.postfix = None
        self.tmp = tempfile.mkdtemp(prefix="postfix-ca-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def start(self, outbound, postfix_extra=""):
        ca, cert, key = make_ca(self.tmp)
        postfix_port = free_port()
        if outbound:
            self.postern = Postern(
                users=[ALICE],
                routes={"remote.test": ("127.0.0.1", postfix_port)},
                ca_file=ca,
                tls={"remote.test": "require-verified"},
            )
        else:
            self.postern = Postern(users=[ALICE])
        self.addCleanup(self.stop_postern)
        self.postfix = Postfix(postfix_port, self.postern.smtp, self.postern.ca, cert, key, postfix_extra)
        self.addCleanup(self.postfix.stop)

    def stop_postern(self):
        if os.environ.get("SHOW_LOG") == "1":
            print("\n--- postern serve.log ---\n" + self.postern.log_text()[-20000:])
        self.postern.stop()

    def detail(self):
        return "--- postfix maillog ---\n" + self.postfix.log() + \
            "\n--- postern serve.log ---\n" + self.postern.log_text()[-8000:]

    def test_a_postfix_delivers_into_postern_mx_over_verified_starttls(self):
        self.start(outbound=False)
        original = message("postfix to postern")
        s = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        self.assertEqual(s.sendmail("someone@remote.test", [ALICE], original), {})
        s.quit()
        def arrived():
            if re.search(r"to=<" + re.escape(ALICE) + r">.*status=bounced", self.postfix.log()):
                raise AssertionError("Postfix bounced the message\n" + self.detail())
            return [m for m in self.postern.messages(ALICE) if m.endswith(original)]

        stored = wait_until("the message in Postern", arrived, 60, self.detail)
        fields = split_trace(stored[0], original)
        received = [v for n, v in fields if n == b"received"]
        # The top one is Postern's, the next Postfix's.
        self.assertGreaterEqual(len(received), 2, fields)
        self.assertIn(POSTFIX_HOSTNAME.encode(), received[0], received[0])
        self.assertRegex(received[0], rb"\bwith ESMTPS\b", received[0])
        self.assertRegex(received[0], rb"TLS ?v?1[._]?[23]|TLSv?1\.[23]", received[0])
        log = self.postfix.log()
        self.assertRegex(log, r"Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:"
                         + str(self.postern.smtp) + r": TLSv1\.[23]", self.detail())
        self.assertRegex(log, r"to=<" + re.escape(ALICE) + r">, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                         + str(self.postern.smtp) + r".*status=sent \(250 ", self.detail())

    def test_b_postern_queue_delivers_to_postfix_over_starttls(self):
        self.start(outbound=True)
        original = message("postern to postfix", ALICE)
        s = smtplib.SMTP_SSL("localhost", self.postern.submissions, context=self.postern.context(), timeout=30)
        s.ehlo("client.example.test")
        s.user, s.password = ALICE, PASSWORD
        self.assertEqual(s.auth("PLAIN", s.auth_plain)[0], 235)
        self.assertEqual(s.sendmail(ALICE, [BOB], original), {})
        s.quit()
        got = wait_until(
            "the message in Postfix's maildir",
            lambda: [m for m in self.postfix.delivered() if b"Subject: postern to postfix" in m],
            90, self.detail,
        )
        # Postfix's maildir file has LF line ends.
        copy = got[0].replace(b"\n", b"\r\n")
        self.assertTrue(copy.endswith(original), copy)
        header = re.sub(rb"\r\n[ \t]+", b" ", copy.split(b"\r\n\r\n", 1)[0]).split(b"\r\n")
        self.assertEqual(header[0], b"Return-Path: <" + ALICE.encode() + b">", header)
        # The first Received field is Postfix's: Postern was its client, over TLS.
        postfix_received = next(line for line in header if line.startswith(b"Received:"))
        self.assertRegex(postfix_received, rb"\(using TLSv1\.[23] with cipher ", postfix_received)
        self.assertRegex(postfix_received, rb"\[127\.0\.0\.1\]", postfix_received)
        self.assertRegex(postfix_received, rb"by " + POSTFIX_HOSTNAME.encode() + rb" \(Postfix\) with ESMTPS",
                         postfix_received)
        self.assertRegex(self.postfix.log(), r"TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.[23]",
                         self.detail())
        # Delivered: nothing left for bob in Postern's queue.
        if self.postern.queue_list() is not None:
            wait_until("bob's entry to leave the queue",
                       lambda: BOB not in self.postern.queue_list(), 30, self.detail)

    def submit(self, rcpts, original):
        s = smtplib.SMTP_SSL("localhost", self.postern.submissions, context=self.postern.context(), timeout=30)
        s.ehlo("client.example.test")
        s.user, s.password = ALICE, PASSWORD
        self.assertEqual(s.auth("PLAIN", s.auth_plain)[0], 235)
        self.assertEqual(s.sendmail(ALICE, rcpts, original), {})
        s.quit()

    def test_c_a_5xx_from_postfix_bounces_with_a_dsn(self):
        # RFC 3464: the refusal comes back to the (local) sender as a
        # multipart/report with the recipient, the status and Postfix's reply.
        self.start(outbound=True)
        original = message("to nobody", ALICE)
        self.submit([NOBODY], original)
        dsn = wait_until(
            "a delivery status notification in alice's INBOX",
            lambda: [m for m in self.postern.messages(ALICE) if b"delivery-status" in m.lower()],
            90, self.detail,
        )[0]
        self.assertRegex(self.postfix.log(), r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <"
                         + re.escape(NOBODY) + ">", self.detail())
        self.assertRegex(dsn, rb"(?i)Content-Type: multipart/report;[^\r]*report-type=\"?delivery-status", dsn[:2000])
        self.assertRegex(dsn, rb"(?i)Final-Recipient: rfc822; ?" + re.escape(NOBODY.encode()), dsn)
        self.assertRegex(dsn, rb"(?i)Action: failed", dsn)
        self.assertRegex(dsn, rb"(?i)Status: 5\.1\.1", dsn)
        self.assertRegex(dsn, rb"(?i)Diagnostic-Code: smtp; ?550 5\.1\.1", dsn)
        self.assertIn(b"Subject: to nobody", dsn)
        if self.postern.queue_list() is not None:
            wait_until("the bounced item to leave the queue",
                       lambda: NOBODY not in self.postern.queue_list(), 30, self.detail)

    def test_d_a_4xx_is_retried_and_survives_a_restart(self):
        self.start(outbound=True)
        original = message("retry me", ALICE)
        self.submit([LATER], original)
        attempt = r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 451 4\.7\.1 <" + re.escape(LATER) + ">"
        wait_until("Postern's first attempt", lambda: re.search(attempt, self.postfix.log()), 60, self.detail)
        listing = self.postern.queue_list()
        if listing is not None:
            self.assertIn(LATER, listing, "a deferred recipient is not in the queue")
        # Stopped with the message deferred, started again: still there.
        self.postern.halt()
        self.postfix.accept_later()
        self.postern.start()
        # RFC 5321 §4.5.4.1: retried after a while (Postern's first delay
        # is its own; the limit here is generous).
        got = wait_until(
            "the retried message in Postfix's maildir",
            lambda: [m for m in self.postfix.delivered(LATER) if b"Subject: retry me" in m],
            200, self.detail,
        )
        self.assertTrue(got[0].replace(b"\n", b"\r\n").endswith(original))
        self.assertEqual(len(re.findall(r"status=sent", self.postfix.log())), 1, self.detail())
        self.assertFalse([m for m in self.postern.messages(ALICE) if b"action: failed" in m.lower()],
                         "a failure report for a message that was delivered")

    def bdat_submit(self, rcpt, msg):
        r = Raw(self.postern.submissions, self.postern.context())
        try:
            self.assertEqual(r.reply()[0], 220, r.text())
            self.assertEqual(r.command(b"EHLO client.example.test")[0], 250, r.text())
            token = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode())
            self.assertEqual(r.command(b"AUTH PLAIN " + token)[0], 235, r.text())
            self.assertEqual(r.command(b"MAIL FROM:<" + ALICE.encode() + b">")[0], 250, r.text())
            self.assertEqual(r.command(b"RCPT TO:<" + rcpt.encode() + b">")[0], 250, r.text())
            r.send(b"BDAT " + str(len(msg)).encode() + b" LAST\r\n" + msg)
            return r.reply()[0], r.text()
        finally:
            r.close()

    def test_e_bare_line_ends_from_bdat_do_not_reach_a_data_peer(self):
        # BDAT lets a submitter put a bare LF in the message (RFC 3030 is
        # binary-clean). To a peer without CHUNKING the queue sends DATA and
        # makes every bare LF a CRLF: neither a second transaction (SMTP
        # smuggling) nor a From field hidden behind the LF may come out.
        self.start(outbound=True, postfix_extra="smtpd_discard_ehlo_keywords = chunking\n")
        smuggle = (
            b"From: <alice@example.test>\r\nSubject: outer\r\n\r\nfirst part\n.\n"
            b"MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<" + BOB.encode() + b">\r\nDATA\r\n"
            b"From: <ceo@bank.test>\r\nSubject: smuggled\r\n\r\nsecond part\r\n.\r\nlast\r\n"
        )
        hidden_from = b"X-Dummy: a\nFrom: <ceo@bank.test>\r\nSubject: hidden from\r\n\r\nhello\r\n"
        sent = []
        for name, msg in (("smuggle", smuggle), ("hidden from", hidden_from)):
            code, transcript = self.bdat_submit(BOB, msg)
            if code == 250:
                sent.append(name)
            else:
                self.assertGreaterEqual(code, 500, transcript)
        if sent:
            wait_until("Postfix's deliveries", lambda: len(re.findall(
                r"to=<" + re.escape(BOB) + r">, relay=virtual.*status=sent", self.postfix.log())) >= len(sent),
                90, self.detail)
        time.sleep(2)
        delivered = self.postfix.delivered()
        self.assertEqual(len(delivered), len(sent), self.detail())
        for m in delivered:
            header = m.split(b"\n\n", 1)[0]
            self.assertNotRegex(header, rb"(?im)^From: <ceo@bank\.test>", m)
            if b"Subject: smuggled" in m:
                self.assertIn(b"first part", m, "the smuggled message stands alone")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    # A test with failing subtests counts once.
    failed = len({getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors})
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
