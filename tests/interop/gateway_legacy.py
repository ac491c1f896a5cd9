#!/usr/bin/env python3
"""`postern gateway` in front of a legacy mail server that speaks plain
text only: a private Dovecot (IMAP, POP3, LMTP, SASL for Postfix) and a
private Postfix (a submission port with SASL through Dovecot, and an MX
port), both on 127.0.0.1 and both delivering into Dovecot's maildirs.

In front of them, one `postern gateway` per listener: IMAP implicit TLS
and STARTTLS, POP3 implicit TLS and STLS, submission implicit TLS
(RFC 8314) and the MX port with STARTTLS (RFC 3207), all with a
certificate of a throw-away CA imported with `postern cert import`.
Python's imaplib, poplib and smtplib check, over verified TLS:

- a login through the gateway reaches Dovecot, and mail is readable;
- a wrong password is refused with Dovecot's own verdict (it was asked);
- LOGIN, USER and AUTH before STARTTLS are refused by Postern itself:
  neither Dovecot's nor Postfix's log shows a connection (a direct
  connection to them does show up, so the check can fail);
- STARTTLS with a command pipelined behind it in the same write (the
  CVE-2011-0411 class) is closed, and nothing reaches the back end;
- a message submitted through the gateway (AUTH PLAIN) and one sent to
  the MX port through the gateway arrive in the Dovecot mailbox, read
  back through the gateway's IMAP.

Everything lives in one temporary directory; Dovecot and the gateways
are stopped by PID, Postfix with `postfix -c DIR stop` (then by the PID
it wrote). Every wait is bounded. Needs root (Postfix's master and
Dovecot drop privileges); under CI=true a missing program or a missing
root is a failure, elsewhere a skip.

Run by .ci/run after `cargo build --workspace`; locally:
    cargo build && python3 tests/interop/gateway_legacy.py
POSTERN_BIN overrides the binary; KEEP_DATA=1 keeps the directory.
"""
import email.utils
import imaplib
import os
import poplib
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postfix_smtp import make_ca, wait_until  # noqa: E402
from smtp_support import BIN, free_ports, need_program, postern  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "gateway-interop-7"
SEED = (
    b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
    b"Subject: seeded in the maildir\r\nMessage-ID: <seed@example.test>\r\n\r\n"
    b"first line\r\nlast line\r\n"
)


def message(subject, sender, rcpt):
    # With a Date field Postfix adds none (RFC 5322 §3.6 makes it
    # mandatory; Postfix fills it in for local senders): the stored copy
    # ends with the message byte for byte.
    return (
        f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate()}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.test>\r\n\r\n"
        f"body of {subject}\r\n"
    ).encode()


class Legacy:
    """Dovecot 2.3 and Postfix 3.x as private instances under `root`."""

    def __init__(self, root):
        self.root = root
        self.dovecot = None
        self.postfix_started = False
        d = self.d = os.path.join(root, "dovecot")
        x = self.x = os.path.join(root, "postfix")
        for path in (d, x, f"{d}/mail", f"{d}/home", f"{d}/state", f"{x}/etc", f"{x}/spool", f"{x}/data"):
            os.makedirs(path)
        # Dovecot's mail processes run as nobody and Postfix's as postfix:
        # both cross into the temporary directory.
        for path in (root, d, x):
            os.chmod(path, 0o711)
        nobody = pwd.getpwnam("nobody")
        postfix = pwd.getpwnam("postfix")
        os.chown(f"{x}/data", postfix.pw_uid, postfix.pw_gid)
        self.imap, self.pop3, self.sub, self.mx = free_ports(4)
        with open(f"{d}/users", "w") as f:
            for user in (ALICE, BOB):
                f.write(f"{user}:{{PLAIN}}{PASSWORD}::::::\n")
        os.chmod(f"{d}/users", 0o644)
        self.seed(ALICE, SEED)
        for top in (f"{d}/mail", f"{d}/home"):
            for dirpath, _, files in os.walk(top):
                os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
                for name in files:
                    os.chown(os.path.join(dirpath, name), nobody.pw_uid, nobody.pw_gid)
        self.write_dovecot()
        self.write_postfix()

    def seed(self, user, raw):
        md = f"{self.d}/mail/{user}"
        for sub in ("new", "cur", "tmp"):
            os.makedirs(f"{md}/{sub}", exist_ok=True)
        os.makedirs(f"{self.d}/home/{user}", exist_ok=True)
        with open(f"{md}/new/1700000000.M1P1.localhost", "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n"))

    def write_dovecot(self):
        d = self.d
        conf = f"""\
# A private Dovecot for the gateway interop test: plain text only.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
# Plain-text logins are what a legacy server behind a gateway takes.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
  default_fields = home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""
        with open(f"{d}/dovecot.conf", "w") as f:
            f.write(conf)

    def write_postfix(self):
        x, d = self.x, self.d
        main_cf = f"""\
# A private Postfix for the gateway interop test: plain text only.
compatibility_level = 3.6
queue_directory = {x}/spool
data_directory = {x}/data
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {x}
maillog_file = {x}/maillog
myhostname = legacy.example.test
mydomain = example.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps =
biff = no
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:{x}/etc/vmailbox
virtual_transport = lmtp:unix:{d}/run/lmtp
smtpd_tls_security_level = none
smtpd_sasl_type = dovecot
smtpd_sasl_path = {d}/run/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = reject_unauth_destination
"""
        master_cf = f"""\
127.0.0.1:{self.mx} inet n - n - - smtpd
127.0.0.1:{self.sub} inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
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
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        files = {"main.cf": main_cf, "master.cf": master_cf, "vmailbox": f"{ALICE} OK\n{BOB} OK\n"}
        for name, text in files.items():
            with open(f"{x}/etc/{name}", "w") as f:
                f.write(text)

    def start(self):
        log = open(f"{self.d}/stdout.log", "ab")
        self.dovecot = subprocess.Popen(
            ["dovecot", "-F", "-c", f"{self.d}/dovecot.conf"], stdout=log, stderr=log
        )
        log.close()
        for port in (self.imap, self.pop3):
            wait_until(f"Dovecot on port {port}", lambda: self.listening(port) or self.dovecot_died(), 30,
                       self.dovecot_log)
        wait_until("Dovecot's LMTP and auth sockets",
                   lambda: os.path.exists(f"{self.d}/run/lmtp") and os.path.exists(f"{self.d}/run/auth-postfix"),
                   30, self.dovecot_log)
        self.postfix("check")
        self.postfix_started = True
        self.postfix("start")
        for port in (self.sub, self.mx):
            wait_until(f"Postfix on port {port}", lambda: self.listening(port), 30, self.postfix_log)

    def dovecot_died(self):
        if self.dovecot.poll() is not None:
            raise AssertionError("dovecot exited:\n" + self.dovecot_log())
        return False

    def postfix(self, *args):
        out = subprocess.run(["postfix", "-c", f"{self.x}/etc", *args], capture_output=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)} failed: {out.stdout.decode()}{out.stderr.decode()}\n"
                                 + self.postfix_log())

    @staticmethod
    def listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def dovecot_log(self):
        return read(f"{self.d}/dovecot.log") + read(f"{self.d}/stdout.log")

    def postfix_log(self):
        return read(f"{self.x}/maillog")

    def mailbox(self, user):
        """The messages in a maildir (new/ and cur/), LF line ends."""
        out = []
        for sub in ("new", "cur"):
            path = f"{self.d}/mail/{user}/{sub}"
            if os.path.isdir(path):
                for name in sorted(os.listdir(path)):
                    out.append(read(os.path.join(path, name)))
        return out

    def stop(self):
        if self.postfix_started:
            pid = None
            try:
                with open(f"{self.x}/spool/pid/master.pid") as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                pass
            try:
                self.postfix("stop")
            except AssertionError as e:
                print(e, file=sys.stderr)
            if pid is not None:
                deadline = time.time() + 15
                while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                    time.sleep(0.1)
                if os.path.exists(f"/proc/{pid}"):
                    os.kill(pid, signal.SIGKILL)
            self.postfix_started = False
        if self.dovecot is not None:
            halt(self.dovecot)
            self.dovecot = None


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def halt(proc):
    """SIGTERM, up to 15 s, then SIGKILL: only a process started here."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Gateways:
    """A data directory with the throw-away CA's certificate, and one
    `postern gateway` per listener."""

    def __init__(self, root, legacy):
        self.dir = os.path.join(root, "postern")
        self.ca, cert, key = make_ca(root)
        postern(self.dir, "init", "--dev-ports", "--hostname", "localhost", "--domain", "example.test")
        postern(self.dir, "cert", "import", cert, "--key", key, "--ca-bundle", self.ca)
        self.procs = {}
        specs = {
            "imaps": ("imap", "implicit", legacy.imap),
            "imap": ("imap", "starttls", legacy.imap),
            "pop3s": ("pop3", "implicit", legacy.pop3),
            "pop3": ("pop3", "starttls", legacy.pop3),
            "submissions": ("submission", "implicit", legacy.sub),
            "smtp": ("smtp", "starttls", legacy.mx),
        }
        self.port = dict(zip(specs, free_ports(len(specs))))
        for name, (protocol, tls, upstream) in specs.items():
            log = open(os.path.join(root, f"gateway-{name}.log"), "ab")
            self.procs[name] = subprocess.Popen(
                [BIN, "--data-dir", self.dir, "gateway", "--protocol", protocol,
                 "--listen", f"127.0.0.1:{self.port[name]}", "--tls", tls,
                 "--upstream", f"127.0.0.1:{upstream}"],
                stdout=log, stderr=log,
            )
            log.close()
        self.root = root
        for name, port in self.port.items():
            wait_until(f"postern gateway ({name}) on port {port}",
                       lambda: Legacy.listening(port) or self.died(name), 30, self.logs)

    def died(self, name):
        if self.procs[name].poll() is not None:
            raise AssertionError(f"postern gateway ({name}) exited:\n" + self.logs())
        return False

    def logs(self):
        return "".join(f"--- gateway {n} ---\n" + read(os.path.join(self.root, f"gateway-{n}.log"))
                       for n in self.procs)

    def context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def stop(self):
        for proc in self.procs.values():
            halt(proc)


class Verdict:
    """What need_program expects of a test, for setUpClass."""

    @staticmethod
    def fail(msg):
        raise AssertionError(msg)

    @staticmethod
    def skipTest(reason):
        raise unittest.SkipTest(reason)


def need_root_programs():
    """Skips (fails under CI=true) without the programs, root or Dovecot 2.3."""
    for name in ("dovecot", "doveconf", "postfix", "openssl"):
        need_program(Verdict, name)
    if not os.path.exists(BIN):
        Verdict.fail(f"{BIN} is missing: run `cargo build` first")
    unmet = None
    # dovecot-imapd, dovecot-pop3d and dovecot-lmtpd beside dovecot-core.
    missing = [n for n in ("imap", "pop3", "lmtp") if not os.path.exists(f"/usr/lib/dovecot/{n}")]
    if missing:
        unmet = "Dovecot without " + ", ".join(f"/usr/lib/dovecot/{n}" for n in missing) + \
            " (install dovecot-imapd, dovecot-pop3d, dovecot-lmtpd)"
    elif os.geteuid() != 0:
        unmet = "Dovecot and Postfix need root"
    else:
        version = subprocess.run(["dovecot", "--version"], capture_output=True, text=True, timeout=30).stdout
        if not version.startswith("2.3."):
            # 2.4 renamed most settings (mail_driver, passdb blocks, ...).
            unmet = f"Dovecot {version.strip()}: only a 2.3 configuration is written here"
    if unmet and os.environ.get("CI") == "true":
        Verdict.fail(unmet + " (CI=true)")
    if unmet:
        Verdict.skipTest(unmet)


class Raw:
    """Bytes over a socket, for what library clients will not send."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        self.sock.sendall(data)

    def closed_after(self, prefix, wait=10):
        """Reads until the peer closes (True), at most `wait` seconds;
        lines read on the way must start with one of `prefix` (the answer
        to STARTTLS, at most)."""
        deadline = time.time() + wait
        seen = []
        try:
            while time.time() < deadline:
                self.sock.settimeout(max(0.1, deadline - time.time()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True, seen
                seen.append(chunk)
        except (socket.timeout, TimeoutError):
            return False, seen
        except OSError:
            return True, seen
        return False, seen

    def close(self):
        self.sock.close()


class GatewayLegacy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = None
        cls.legacy = cls.gw = None
        need_root_programs()
        try:
            cls.root = tempfile.mkdtemp(prefix="postern-gateway-interop-")
            cls.legacy = Legacy(cls.root)
            cls.legacy.start()
            cls.gw = Gateways(cls.root, cls.legacy)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.gw is not None:
            cls.gw.stop()
        if cls.legacy is not None:
            cls.legacy.stop()
        if cls.root is not None:
            if os.environ.get("KEEP_DATA") == "1":
                print(f"kept {cls.root}")
            else:
                shutil.rmtree(cls.root, ignore_errors=True)

    def detail(self):
        return ("--- dovecot.log ---\n" + self.legacy.dovecot_log()[-6000:] + "\n--- maillog ---\n"
                + self.legacy.postfix_log()[-6000:] + "\n" + self.gw.logs()[-8000:])

    def quiet_back_end(self, action, back_end="dovecot"):
        """Runs `action` and checks that the back end logged nothing new
        about a connection: every connection to Dovecot's login services
        ends with a `imap-login:`/`pop3-login:` line (the disconnect, with
        or without an auth attempt), every one to Postfix with a
        `connect from`."""
        log = self.legacy.dovecot_log if back_end == "dovecot" else self.legacy.postfix_log
        pattern = r"(imap|pop3)-login:|auth:" if back_end == "dovecot" else r"connect from"
        before = len(re.findall(pattern, log()))
        result = action()
        # The back end logs a connection within milliseconds; give it time.
        time.sleep(1.5)
        after = re.findall(pattern, log())
        self.assertEqual(len(after), before, f"{back_end} saw a connection:\n" + self.detail())
        return result

    def imaps(self):
        return imaplib.IMAP4_SSL("localhost", self.gw.port["imaps"], ssl_context=self.gw.context(), timeout=20)

    # ---- the harness itself ----------------------------------------------------

    def test_0_a_direct_connection_shows_in_the_back_ends_logs(self):
        # The "nothing reached the back end" checks below count log lines;
        # a direct connection must add some, or they prove nothing.
        before = len(re.findall(r"imap-login:", self.legacy.dovecot_log()))
        m = imaplib.IMAP4("127.0.0.1", self.legacy.imap, timeout=10)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(ALICE, "not the password")
        m.logout()
        wait_until("Dovecot's log line", lambda: len(re.findall(r"imap-login:", self.legacy.dovecot_log())) > before,
                   10, self.detail)
        self.assertRegex(self.legacy.dovecot_log(), r"auth failed")
        before = len(re.findall(r"connect from", self.legacy.postfix_log()))
        s = smtplib.SMTP("127.0.0.1", self.legacy.mx, timeout=10)
        s.quit()
        wait_until("Postfix's log line",
                   lambda: len(re.findall(r"connect from", self.legacy.postfix_log())) > before, 10, self.detail)

    # ---- IMAP ---------------------------------------------------------------

    def test_1_imaps_login_and_read_through_the_gateway(self):
        m = self.imaps()
        typ, _ = m.login(ALICE, PASSWORD)
        self.assertEqual(typ, "OK")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertGreaterEqual(int(data[0]), 1)
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", "<seed@example.test>")
        self.assertEqual(typ, "OK")
        uid = data[0].split()[0]
        typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
        self.assertEqual(data[0][1], SEED)
        m.logout()
        self.assertRegex(self.legacy.dovecot_log(), r"imap-login: (Info: )?Login: user=<" + re.escape(ALICE) + ">")

    def test_2_imaps_wrong_password_is_dovecots_verdict(self):
        before = self.legacy.dovecot_log().count("auth failed")
        m = self.imaps()
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(ALICE, "not the password")
        m.logout()
        wait_until("Dovecot's auth failure", lambda: self.legacy.dovecot_log().count("auth failed") > before,
                   10, self.detail)

    def test_3_imap_login_before_starttls_is_refused_by_postern(self):
        def attempt():
            m = imaplib.IMAP4("127.0.0.1", self.gw.port["imap"], timeout=10)
            caps = m.capabilities
            with self.assertRaises(imaplib.IMAP4.error):
                m.login(ALICE, PASSWORD)
            # AUTHENTICATE PLAIN with the initial response (RFC 4959) too.
            raw = Raw(self.gw.port["imap"])
            raw.line()
            raw.send(b"a1 AUTHENTICATE PLAIN AGFsaWNlAHg=\r\n")
            answer = raw.line()
            raw.close()
            m.logout()
            return caps, answer

        caps, answer = self.quiet_back_end(attempt)
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        self.assertRegex(answer, rb"^a1 (NO|BAD)")

    def test_4_imap_starttls_then_login(self):
        m = imaplib.IMAP4("localhost", self.gw.port["imap"], timeout=20)
        m.starttls(ssl_context=self.gw.context())
        typ, _ = m.login(ALICE, PASSWORD)
        self.assertEqual(typ, "OK")
        typ, data = m.select("INBOX")
        self.assertEqual(typ, "OK", data)
        m.logout()

    def test_5_imap_starttls_with_a_pipelined_command_is_closed(self):
        def attempt():
            raw = Raw(self.gw.port["imap"])
            raw.line()
            raw.send(f"a1 STARTTLS\r\na2 LOGIN {ALICE} {PASSWORD}\r\n".encode())
            closed, seen = raw.closed_after(b"a1")
            raw.close()
            return closed, seen

        closed, seen = self.quiet_back_end(attempt)
        self.assertTrue(closed, f"the gateway kept the connection open; it sent {seen!r}")
        self.assertNotIn(b"a2 OK", b"".join(seen))

    # ---- POP3 ----------------------------------------------------------------

    def test_6_pop3s_login_and_retr(self):
        p = poplib.POP3_SSL("localhost", self.gw.port["pop3s"], context=self.gw.context(), timeout=20)
        p.user(ALICE)
        p.pass_(PASSWORD)
        count, _ = p.stat()
        self.assertGreaterEqual(count, 1)
        bodies = [b"\r\n".join(p.retr(n)[1]) + b"\r\n" for n in range(1, count + 1)]
        self.assertIn(SEED, bodies)
        p.quit()
        self.assertRegex(self.legacy.dovecot_log(), r"pop3-login: (Info: )?Login: user=<" + re.escape(ALICE) + ">")

    def test_7_pop3_user_and_auth_before_stls_are_refused_by_postern(self):
        def attempt():
            p = poplib.POP3("127.0.0.1", self.gw.port["pop3"], timeout=10)
            caps = p.capa()
            answers = []
            for cmd in (f"USER {ALICE}", "AUTH PLAIN AGFsaWNlAHg="):
                try:
                    answers.append(p._shortcmd(cmd))
                except poplib.error_proto as e:
                    answers.append(e.args[0])
            p.quit()
            return caps, answers

        caps, answers = self.quiet_back_end(attempt)
        self.assertIn("STLS", caps)
        for answer in answers:
            self.assertTrue(answer.startswith(b"-ERR"), answers)

    def test_8_pop3_stls_then_login_and_injection(self):
        p = poplib.POP3("localhost", self.gw.port["pop3"], timeout=20)
        p.stls(context=self.gw.context())
        p.user(ALICE)
        p.pass_(PASSWORD)
        self.assertGreaterEqual(p.stat()[0], 1)
        p.quit()

        def attempt():
            raw = Raw(self.gw.port["pop3"])
            raw.line()
            raw.send(f"STLS\r\nUSER {ALICE}\r\n".encode())
            closed, seen = raw.closed_after(b"+OK")
            raw.close()
            return closed, seen

        closed, seen = self.quiet_back_end(attempt)
        self.assertTrue(closed, f"the gateway kept the connection open; it sent {seen!r}")

    # ---- SMTP ----------------------------------------------------------------

    def arrived(self, user, subject):
        """Waits for the message in the maildir, then reads it back through
        the gateway's IMAP."""
        wait_until(f"{subject!r} in {user}'s maildir",
                   lambda: [m for m in self.legacy.mailbox(user) if f"Subject: {subject}\n" in m], 60, self.detail)
        m = self.imaps()
        m.login(user, PASSWORD)
        m.select("INBOX")
        typ, data = m.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        self.assertEqual(typ, "OK")
        self.assertTrue(data[0], f"IMAP SEARCH does not find {subject!r}")
        typ, data = m.uid("FETCH", data[0].split()[-1], "(BODY.PEEK[])")
        m.logout()
        return data[0][1]

    def test_9_submission_through_the_gateway_arrives_in_dovecot(self):
        original = message("submitted through the gateway", ALICE, BOB)
        s = smtplib.SMTP_SSL("localhost", self.gw.port["submissions"], context=self.gw.context(), timeout=30)
        s.ehlo("client.example.test")
        self.assertIn("auth", s.esmtp_features)
        s.login(ALICE, PASSWORD)
        self.assertEqual(s.sendmail(ALICE, [BOB], original), {})
        s.quit()
        stored = self.arrived(BOB, "submitted through the gateway")
        self.assertTrue(stored.endswith(original), stored)
        # Postfix took the AUTH from the gateway: SASL through Dovecot.
        self.assertRegex(self.legacy.postfix_log(), r"sasl_method=PLAIN, sasl_username=" + re.escape(ALICE))

    def test_a_mx_starttls_delivery_through_the_gateway(self):
        original = message("sent to the mx gateway", "someone@remote.test", ALICE)
        s = smtplib.SMTP("localhost", self.gw.port["smtp"], timeout=30)
        s.ehlo("client.example.test")
        self.assertTrue(s.has_extn("starttls"))
        s.starttls(context=self.gw.context())
        s.ehlo("client.example.test")
        # Postfix's answer, relayed: no second STARTTLS after TLS.
        self.assertFalse(s.has_extn("starttls"))
        self.assertEqual(s.sendmail("someone@remote.test", [ALICE], original), {})
        s.quit()
        stored = self.arrived(ALICE, "sent to the mx gateway")
        self.assertTrue(stored.endswith(original), stored)

    def test_b_smtp_auth_before_starttls_and_injection_never_reach_postfix(self):
        def attempt():
            raw = Raw(self.gw.port["smtp"])
            raw.line()
            raw.send(b"EHLO client.example.test\r\n")
            while not re.match(rb"^250 ", raw.line()):
                pass
            raw.send(b"AUTH PLAIN AGFsaWNlAHg=\r\n")
            auth = raw.line()
            raw.send(b"STARTTLS\r\nMAIL FROM:<someone@remote.test>\r\n")
            closed, seen = raw.closed_after(b"220")
            raw.close()
            # Submission before TLS does not exist on the implicit port;
            # the MX port has no AUTH at all.
            return auth, closed, seen

        auth, closed, seen = self.quiet_back_end(attempt, back_end="postfix")
        self.assertRegex(auth, rb"^5\d\d ")
        self.assertTrue(closed, f"the gateway kept the connection open; it sent {seen!r}")


# The whole run is bounded: every wait above has its own limit, and this
# one catches anything that hangs in between (a peer that neither answers
# nor closes past a socket timeout).
LIMIT_SECONDS = 600


def overtime(signum, frame):
    raise TimeoutError(f"gateway_legacy.py ran over {LIMIT_SECONDS}s")


def summary(result):
    """One line per check, with its verdict."""
    verdict = {}
    for test, _ in result.failures + result.errors:
        verdict[test.id()] = "FAIL"
    for test, _ in result.skipped:
        verdict[test.id()] = "SKIP"
    # A failure or skip in setUpClass stands for every check.
    default = next((v for k, v in verdict.items() if "setUpClass" in k), "ok")
    names = unittest.TestLoader().getTestCaseNames(GatewayLegacy)
    print("\n== gateway in front of Dovecot and Postfix: checks")
    for name in names:
        key = f"{__name__}.GatewayLegacy.{name}"
        print(f"{verdict.get(key, default):>7}  {name.split('_', 2)[2].replace('_', ' ')}")


if __name__ == "__main__":
    started = time.time()
    signal.signal(signal.SIGALRM, overtime)
    signal.alarm(LIMIT_SECONDS)
    result = unittest.main(exit=False, verbosity=2).result
    signal.alarm(0)
    summary(result)
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    print(f"gateway_legacy: {result.testsRun - failed - skipped} passed, {failed} failed, "
          f"{skipped} skipped in {time.time() - started:.0f}s")
    sys.exit(1 if failed or not result.testsRun or (skipped and os.environ.get("CI") == "true") else 0)
