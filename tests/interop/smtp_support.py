"""Shared by the interop scripts: a `postern` data directory on free
loopback ports, started from the built binary, with accounts, and the
ways the scripts look at the result (POP3 over TLS, `postern queue list`,
the server's log).

The configuration written by `postern init --dev-ports` is edited in two
places only, each one function below: `listener_ports` (every dev port
moved to a free one) and `smtp_settings` (the SMTP service's own keys:
the message size limit, static routes, outbound trust anchors and TLS
requirements).
"""
import os
import poplib
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("POSTERN_BIN", os.path.join(ROOT, "target", "debug", "postern"))
DOMAIN = "example.test"
PASSWORD = "correct horse battery"

# The dev ports `init --dev-ports` writes (see crates/config's template).
DEV_SMTP, DEV_SUBMISSION, DEV_SUBMISSIONS, DEV_POP3S = 2525, 2587, 2465, 2995

# Header fields a receiving server may put above a message it stores
# (RFC 5321 §4.4 trace fields, RFC 8601 Authentication-Results).
TRACE_FIELDS = {b"received", b"return-path", b"authentication-results"}


# Where free ports are looked for: below Linux's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 by default), never with
# port 0. A port that bind(0) hands out is also the next source port of
# some other test's outgoing connection (openssl, curl, the server's own
# clients), which can take it in the moment between the check and
# `postern serve`'s bind: the server then fails to start. The Rust CLI
# tests (crates/cli/tests/common) pick theirs the same way.
FREE_PORT_LOW, FREE_PORT_SPAN = 20000, 12000


def free_ports(n):
    """`n` distinct ports that were free a moment ago on 127.0.0.1, from
    FREE_PORT_LOW up, tried in a random order so that parallel runs start
    at different places. Each is held until all are found, so none is
    given twice."""
    candidates = list(range(FREE_PORT_LOW, FREE_PORT_LOW + FREE_PORT_SPAN))
    random.shuffle(candidates)
    held = []
    try:
        for port in candidates:
            if len(held) == n:
                break
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
        if len(held) < n:
            raise AssertionError(
                f"no {n} free ports between {FREE_PORT_LOW} and "
                f"{FREE_PORT_LOW + FREE_PORT_SPAN - 1}: stop what holds them and run again"
            )
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def free_port():
    """One port that was free a moment ago on 127.0.0.1 (see free_ports)."""
    return free_ports(1)[0]


def need_program(test, name):
    """The path of an outside program; a failure under CI=true when it is
    missing (CI installs it), a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            test.fail(f"{name} is required under CI=true")
        test.skipTest(f"{name} not installed")
    return path


def postern(data_dir, *args, stdin=None, check=True):
    result = subprocess.run(
        [BIN, "--data-dir", data_dir, *args],
        input=stdin, capture_output=True, timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"postern {' '.join(args)} failed: {result.stderr.decode()}")
    return result


def listener_ports(text):
    """Every `"127.0.0.1:port"` of the dev configuration moved to a free
    port; returns the new text and {dev port: new port}."""
    dev = sorted(set(int(p) for p in re.findall(r'"127\.0\.0\.1:(\d+)"', text)))
    ports = dict(zip(dev, free_ports(len(dev))))
    for port, new in ports.items():
        text = text.replace(f'"127.0.0.1:{port}"', f'"127.0.0.1:{new}"')
    text = re.sub(r"redirect_https_port = \d+", f"redirect_https_port = {ports.get(8443, 8443)}", text)
    return text, ports


def smtp_settings(text, max_message_size=None, routes=None, ca_file=None, tls=None):
    """The SMTP service's keys in the configuration `init` wrote.

    max_message_size: `[smtp] max_message_size` (octets, SIZE). routes:
    {domain: (host, port)} as `[outbound.routes]`, static routes used
    before any MX lookup. ca_file: `[outbound] ca_file`, a PEM file of
    trust anchors for outbound TLS besides the system's. tls: {domain:
    "require-verified" | "require-tls" | "opportunistic"} as
    `[outbound.tls]`.
    """
    if max_message_size is not None:
        text, n = re.subn(r"(?m)^max_message_size = \d+$", f"max_message_size = {max_message_size}", text)
        if n != 1:
            raise AssertionError("no `max_message_size` in [smtp] of the configuration init wrote")
    if ca_file is not None:
        text, n = re.subn(r"(?m)^\[outbound\]$", f'[outbound]\nca_file = "{ca_file}"', text)
        if n != 1:
            text += f'\n[outbound]\nca_file = "{ca_file}"\n'
    # Sub-tables of [outbound] may follow the [[listener]] array (TOML 1.0).
    if routes:
        text += "\n[outbound.routes]\n" + "".join(
            f'"{domain}" = "{host}:{port}"\n' for domain, (host, port) in sorted(routes.items())
        )
    if tls:
        text += "\n[outbound.tls]\n" + "".join(
            f'"{domain}" = "{level}"\n' for domain, level in sorted(tls.items())
        )
    return text


class Postern:
    """One `postern serve` on free loopback ports, with a data directory of
    its own: `users` (password PASSWORD) and `aliases` ({address: [target,
    ...]}) added, and `deliveries` ([(address, raw message), ...]) put in
    through `postern deliver` before the server starts."""

    def __init__(self, users=(), aliases=None, deliveries=(), **settings):
        self.dir = tempfile.mkdtemp(prefix="postern-smtp-")
        self.server = None
        self.log = None
        try:
            postern(self.dir, "init", "--dev-ports", "--hostname", "localhost", "--domain", DOMAIN)
            config = os.path.join(self.dir, "postern.toml")
            with open(config) as f:
                text = f.read()
            text, self.ports = listener_ports(text)
            text = smtp_settings(text, **settings)
            with open(config, "w") as f:
                f.write(text)
            for user in users:
                postern(self.dir, "user", "add", user, "--password-stdin", stdin=PASSWORD.encode() + b"\n")
            for address, targets in (aliases or {}).items():
                postern(self.dir, "alias", "add", address, *targets)
            for address, raw in deliveries:
                postern(self.dir, "deliver", "--to", address, stdin=raw)
            self.smtp = self.ports[DEV_SMTP]
            self.submission = self.ports[DEV_SUBMISSION]
            self.submissions = self.ports[DEV_SUBMISSIONS]
            self.pop3s = self.ports[DEV_POP3S]
            self.ca = os.path.join(self.dir, "certs", "main.crt.pem")
            self.start()
        except BaseException:
            self.stop()
            raise

    def start(self):
        """`postern serve` on the data directory (again, after `halt`)."""
        self.log = open(os.path.join(self.dir, "serve.log"), "ab")
        self.server = subprocess.Popen(
            [BIN, "--data-dir", self.dir, "serve"], stdout=self.log, stderr=self.log
        )
        self.wait_for(self.submissions)
        self.wait_for(self.smtp)

    def halt(self):
        """Stop the server (SIGTERM, as an administrator would), keeping
        the data directory."""
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def wait_for(self, port):
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline or self.server.poll() is not None:
                    raise AssertionError("postern serve did not start:\n" + self.log_text())
                time.sleep(0.1)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "serve.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        self.halt()
        if os.environ.get("KEEP_DATA") == "1":
            print(f"data kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def messages(self, user):
        """Every message in the account's INBOX, as POP3 hands it over
        (dot-stuffing undone by poplib)."""
        p = poplib.POP3_SSL("localhost", self.pop3s, context=self.context(), timeout=20)
        try:
            p.user(user)
            p.pass_(PASSWORD)
            count, _ = p.stat()
            out = []
            for n in range(1, count + 1):
                _, lines, _ = p.retr(n)
                out.append(b"\r\n".join(lines) + b"\r\n")
            return out
        finally:
            p.quit()

    def count(self, user):
        p = poplib.POP3_SSL("localhost", self.pop3s, context=self.context(), timeout=20)
        try:
            p.user(user)
            p.pass_(PASSWORD)
            return p.stat()[0]
        finally:
            p.quit()

    def queue_list(self):
        """`postern queue list`'s output, or None while the binary has no
        such command."""
        result = postern(self.dir, "queue", "list", check=False)
        if result.returncode != 0 and b"unrecognized subcommand" in result.stderr:
            return None
        if result.returncode != 0:
            raise AssertionError(f"postern queue list failed: {result.stderr.decode()}")
        return result.stdout.decode()


def split_trace(stored, original):
    """The header fields a server added above `original` in `stored`: the
    stored message must be those fields followed by the original,
    byte for byte. Returns [(lowercase name, field bytes)]."""
    if not stored.endswith(original):
        raise AssertionError(
            "the stored message does not end with the submitted one:\n"
            f"stored:   {stored[:2000]!r}\nsubmitted: {original[:2000]!r}"
        )
    prefix = stored[: len(stored) - len(original)]
    fields = []
    for line in prefix.split(b"\r\n")[:-1] if prefix else []:
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        else:
            m = re.match(rb"([!-9;-~]+):", line)
            if not m:
                raise AssertionError(f"not a header field above the message: {line!r}")
            fields.append((m.group(1).lower(), line))
    if prefix and not prefix.endswith(b"\r\n"):
        raise AssertionError(f"added fields do not end with CRLF: {prefix!r}")
    return fields


class Raw:
    """An SMTP conversation byte by byte over a socket, for what a library
    client will not send (pipelined STARTTLS, smuggling, dropped DATA)."""

    def __init__(self, port, tls_context=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.transcript = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.transcript.append(b"C: " + data)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.transcript.append(b"S: " + line)
        return line

    def reply(self):
        """(code, [lines]) of one reply, multi-line joined (RFC 5321 §4.2.1)."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def command(self, data):
        self.send(data + b"\r\n")
        return self.reply()

    def nothing_more(self, wait=1.0):
        """True when the server sends nothing further within `wait` seconds
        (and has nothing buffered)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return True
        except (ssl.SSLError, OSError):
            return True
        finally:
            self.sock.settimeout(10)
        if chunk:
            self.buf += chunk
            self.transcript.append(b"S(unexpected): " + chunk)
            return False
        return True

    def starttls(self, context):
        """Upgrade the connection (after a 220 to STARTTLS)."""
        assert not self.buf, f"data after the 220 to STARTTLS: {self.buf!r}"
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def text(self):
        return b"\n".join(self.transcript).decode(errors="replace")
