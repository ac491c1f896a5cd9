#!/usr/bin/env bash
# The gateway benchmark: what TLS in front of a plain-text Dovecot and
# Postfix costs, through `postern gateway` and through stunnel, side by side
# on loopback.
#
# Sets up a private Dovecot 2.3 (IMAP on a plain-text port, LMTP delivery
# into maildirs, SASL for Postfix) and a private Postfix (a plain-text
# submission port with AUTH through Dovecot), with the same accounts and
# messages, all in a temporary directory. In front of them, on the same
# throw-away certificate (ECDSA P-256, signed by a throw-away CA):
#   - `postern gateway`, one process per protocol (IMAP implicit TLS,
#     submission implicit TLS), and
#   - stunnel4 (Debian's package, installed here when missing), one process
#     with a service for each.
# Then each scenario runs three times in a row, one column each:
#   direct   plain text straight to Dovecot / Postfix (see "direct" below)
#   gateway  TLS through postern gateway
#   stunnel  TLS through stunnel
# Scenarios: imap-login (connect, TLS, LOGIN, LOGOUT per operation),
# imap-fetch (one session per client: FETCH 1:* (FLAGS ENVELOPE
# RFC822.SIZE) over and over), imap-body (FETCH n BODY.PEEK[] message after
# message: the bytes-heavy case) and smtp-submit (AUTH PLAIN once, then
# MAIL/RCPT/DATA message after message, 250 after Postfix queued it). After
# each SMTP run Postfix's queue is drained into the maildirs and what was
# stored is compared with what was acknowledged.
#
# direct: the Rust load generator (bench/, postern-bench) speaks TLS only;
# the plain-text column is measured by a small Python generator written by
# this script ($TMP/plain-load.py: the same operations, the same JSON
# fields, one process per client). Its own CPU use is higher than the Rust
# generator's on the same cores, so the direct figures are a floor, and only
# the gateway/stunnel ratio compares like with like.
#
# Every load run is bounded (BENCH_SECONDS, BENCH_MAX_OPS) and aims at
# 127.0.0.1 only. Everything started here is stopped on exit: by PID, and
# Postfix with `postfix -c DIR stop`.
#
# Settings (environment):
#   BENCH_SECONDS    seconds per run                        (default 10)
#   BENCH_CLIENTS    concurrent clients, 1 to 16            (default 8)
#   BENCH_MESSAGES   messages in each INBOX                 (default 200)
#   BENCH_SCENARIOS  (default "imap-login imap-fetch imap-body smtp-submit")
#   BENCH_SIZE       octets per submitted message           (default 4096)
#   BENCH_MAX_OPS    at most this many operations per run   (default 200000)
#   BENCH_NICE=10    run the servers, proxies and load generators at this
#                    nice level (all alike)
#   BENCH_BUILD=0    use the binaries already in target/release (no cargo)
#   SKIP_STUNNEL=1   measure direct and gateway only
#   KEEP_TMP=1       keep the temporary directory (logs, configs, results)
# Needs root (apt-get install, Dovecot and Postfix drop privileges).
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-200}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"imap-login imap-fetch imap-body smtp-submit"}
BENCH_SIZE=${BENCH_SIZE:-4096}
BENCH_MAX_OPS=${BENCH_MAX_OPS:-200000}
SKIP_STUNNEL=${SKIP_STUNNEL:-0}
KEEP_TMP=${KEEP_TMP:-0}
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
# One account per client.
ACCOUNTS=$BENCH_CLIENTS
# Passed to the load generators through their environment, never on a
# command line (visible in ps).
export POSTERN_BENCH_PASSWORD='bench password 8314'
# How long Postfix's queue may take to drain after a run.
DRAIN_LIMIT=300

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-gateway-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()
POSTFIX_DIR=""

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-gateway.sh: %s\n' "$*" >&2; exit 1; }

# Stops what this script started: Postfix through its own command, then
# every recorded PID with TERM, up to 15 s each, then KILL.
cleanup() {
    local pid i
    if [ -n "$POSTFIX_DIR" ]; then
        postfix -c "$POSTFIX_DIR" stop >/dev/null 2>&1 || true
    fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for i in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$KEEP_TMP" = 1 ]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run as root (apt-get, Dovecot and Postfix)"
# `postern gateway` takes 20 connections from one address (the listener
# default, not settable on its command line); the imap-login runs open a
# new one per operation, so stay below it.
[ "$BENCH_CLIENTS" -ge 1 ] && [ "$BENCH_CLIENTS" -le 16 ] || die "BENCH_CLIENTS is 1 to 16"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sets FREE_PORT to a free port from 20000 up not handed out before.
TAKEN=" "
free_port() {
    local p=20000
    while port_in_use "$p" || [[ $TAKEN == *" $p "* ]]; do
        p=$((p + 1))
    done
    TAKEN+="$p "
    FREE_PORT=$p
}

# Waits (at most 30 s) until process $1 is alive and something listens on $2.
wait_listening() {
    local i
    for i in $(seq 300); do
        kill -0 "$1" 2>/dev/null || return 1
        port_in_use "$2" && return 0
        sleep 0.1
    done
    return 1
}

jfield() { grep -oE "\"$2\":-?[0-9.]+" "$1" | head -1 | cut -d: -f2 || true; }
field() { [ -f "$RESULTS/$1.json" ] && jfield "$RESULTS/$1.json" "$2" || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---- packages, build, certificate --------------------------------------------

missing=()
for p in dovecot-core dovecot-imapd dovecot-lmtpd postfix openssl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "$SKIP_STUNNEL" != 1 ] && ! command -v stunnel4 >/dev/null; then missing+=(stunnel4); fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    # No system configuration for Postfix: the instance below is private.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
DOVECOT_VERSION=$(dovecot --version | cut -d' ' -f1)
case $DOVECOT_VERSION in
    2.3.*) ;;
    *) die "Dovecot $DOVECOT_VERSION: only a 2.3 configuration is written here" ;;
esac
POSTFIX_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo unknown)
STUNNEL_VERSION=none
if [ "$SKIP_STUNNEL" != 1 ]; then
    STUNNEL_VERSION=$(stunnel4 -version 2>&1 | grep -m1 -oE 'stunnel [0-9.]+[^ ]* on [^ ]+ platform' || true)
    STUNNEL_SSL=$(stunnel4 -version 2>&1 | grep -oE 'Compiled with [^,]*|Running  with [^,]*' | tail -1 || true)
    STUNNEL_VERSION="$STUNNEL_VERSION ($STUNNEL_SSL)"
fi

if [ "${BENCH_BUILD:-1}" = 1 ]; then
    log "building postern and postern-bench (release)"
    (cd "$ROOT" && cargo build --release --locked -p postern -p postern-bench) >&2
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
POSTERN=$TARGET_DIR/release/postern
BENCH=$TARGET_DIR/release/postern-bench
[ -x "$POSTERN" ] && [ -x "$BENCH" ] || die "no release binaries in $TARGET_DIR/release: run without BENCH_BUILD=0"

C=$TMP/certs
mkdir -p "$C"
log "making a throw-away CA and a certificate for localhost"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=Postern gateway benchmark throw-away CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$C/server.key" -out "$C/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$C/server.ext"
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 2 -extfile "$C/server.ext" -out "$C/server.pem" 2>/dev/null
cat "$C/server.pem" "$C/ca.pem" >"$C/chain.pem"
chmod 600 "$C"/*.key

log "writing $BENCH_MESSAGES messages"
python3 "$ROOT/bench/make-messages.py" "$BENCH_MESSAGES" "$TMP/messages"

# ---- Dovecot and Postfix ---------------------------------------------------------

D=$TMP/dovecot
X=$TMP/postfix
mkdir -p "$D/mail" "$D/home" "$D/state" "$X/etc" "$X/queue" "$X/data"
# The mail processes run as nobody, Postfix's as postfix: both cross $TMP.
chmod 711 "$TMP" "$D" "$X"
chown postfix:postfix "$X/data"
free_port; IMAP_PORT=$FREE_PORT
free_port; SUB_PORT=$FREE_PORT
free_port; GW_IMAPS=$FREE_PORT
free_port; GW_SUBS=$FREE_PORT
free_port; ST_IMAPS=$FREE_PORT
free_port; ST_SUBS=$FREE_PORT

# Salted SHA-512 (cheap): the login cost is Dovecot's, the same in every
# column; a slow hash would only hide what the TLS layer costs.
hash=$(doveadm pw -s SSHA512 -p "$POSTERN_BENCH_PASSWORD")
: >"$D/users"
: >"$X/etc/vmailbox"
for i in $(seq 0 $((ACCOUNTS - 1))); do
    user=bench$i@example.test
    echo "$user:$hash::::::" >>"$D/users"
    echo "$user OK" >>"$X/etc/vmailbox"
    md=$D/mail/$user
    mkdir -p "$md/new" "$md/cur" "$md/tmp" "$D/home/$user"
    for f in $(seq 1 "$BENCH_MESSAGES"); do
        cp "$TMP/messages/lf/$f.eml" "$md/cur/1700000000.M${f}P1.localhost:2,"
    done
done
chmod 644 "$D/users"
chown -R nobody:nogroup "$D/mail" "$D/home"

cat >"$D/dovecot.conf" <<EOF
# A private Dovecot $DOVECOT_VERSION, plain text only (bench/run-gateway.sh).
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = /dev/null
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
mail_location = maildir:$D/mail/%u
passdb {
  driver = passwd-file
  args = $D/users
}
userdb {
  driver = passwd-file
  args = $D/users
  default_fields = home=$D/home/%u
}
# Every other setting as shipped: one imap-login process per connection,
# one imap process per session.
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF

cat >"$X/etc/main.cf" <<EOF
# A private Postfix $POSTFIX_VERSION, plain text only (bench/run-gateway.sh).
compatibility_level = 3.6
queue_directory = $X/queue
data_directory = $X/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $X/maillog
maillog_file_prefixes = $TMP
myhostname = legacy.localhost
mydomain = localhost
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps =
biff = no
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$X/etc/vmailbox
virtual_transport = lmtp:unix:$D/run/lmtp
smtpd_tls_security_level = none
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/run/auth-postfix
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
EOF
cat >"$X/etc/master.cf" <<EOF
127.0.0.1:$SUB_PORT inet n - n - - smtpd
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
EOF

log "Dovecot $DOVECOT_VERSION: imap on 127.0.0.1:$IMAP_PORT, LMTP and auth in $D/run"
"${NICE[@]}" dovecot -F -c "$D/dovecot.conf" >>"$D/stdout.log" 2>&1 &
DOVECOT_PID=$!
PIDS+=("$DOVECOT_PID")
wait_listening "$DOVECOT_PID" "$IMAP_PORT" || { tail -20 "$D/dovecot.log" "$D/stdout.log" >&2; die "dovecot did not start"; }
for i in $(seq 300); do
    [ -S "$D/run/lmtp" ] && [ -S "$D/run/auth-postfix" ] && break
    sleep 0.1
done

log "Postfix $POSTFIX_VERSION: submission (plain, AUTH) on 127.0.0.1:$SUB_PORT"
postfix -c "$X/etc" check || { tail "$X/maillog" >&2; die "postfix check failed"; }
POSTFIX_DIR=$X/etc
"${NICE[@]}" postfix -c "$X/etc" start >/dev/null 2>&1 || { tail -20 "$X/maillog" >&2; die "postfix did not start"; }
POSTFIX_PID=$(tr -d ' ' <"$X/queue/pid/master.pid")
PIDS+=("$POSTFIX_PID")
wait_listening "$POSTFIX_PID" "$SUB_PORT" || { tail -20 "$X/maillog" >&2; die "postfix does not listen"; }

# ---- the TLS front ends --------------------------------------------------------

P=$TMP/postern
"$POSTERN" init --dev-ports --hostname localhost --domain example.test --data-dir "$P" >/dev/null
"$POSTERN" cert import "$C/chain.pem" --key "$C/server.key" --ca-bundle "$C/ca.pem" \
    --data-dir "$P" >"$TMP/postern-cert.txt" 2>&1 ||
    { cat "$TMP/postern-cert.txt" >&2; die "postern cert import failed"; }
# Logging at warn: one info line per connection would be the gateway's
# main work in imap-login (stunnel below logs at warning too).
if grep -q '^level = ' "$P/postern.toml"; then
    sed -i 's/^level = .*/level = "warn"/' "$P/postern.toml"
fi

start_gateway() {
    local protocol=$1 port=$2 upstream=$3
    log "postern gateway: $protocol, implicit TLS on 127.0.0.1:$port -> 127.0.0.1:$upstream"
    "${NICE[@]}" "$POSTERN" gateway --data-dir "$P" --protocol "$protocol" --tls implicit \
        --listen "127.0.0.1:$port" --upstream "127.0.0.1:$upstream" >>"$TMP/gateway-$protocol.log" 2>&1 &
    GATEWAY_PID=$!
    PIDS+=("$GATEWAY_PID")
    wait_listening "$GATEWAY_PID" "$port" || { tail -20 "$TMP/gateway-$protocol.log" >&2; die "postern gateway did not start"; }
}
start_gateway imap "$GW_IMAPS" "$IMAP_PORT"
GW_IMAP_PID=$GATEWAY_PID
start_gateway submission "$GW_SUBS" "$SUB_PORT"
GW_SUB_PID=$GATEWAY_PID

if [ "$SKIP_STUNNEL" != 1 ]; then
    cat >"$TMP/stunnel.conf" <<EOF
; stunnel as the same TLS front end (bench/run-gateway.sh)
foreground = yes
pid =
output = $TMP/stunnel.log
debug = warning
[imaps]
accept = 127.0.0.1:$ST_IMAPS
connect = 127.0.0.1:$IMAP_PORT
cert = $C/chain.pem
key = $C/server.key
sslVersionMin = TLSv1.2
[submissions]
accept = 127.0.0.1:$ST_SUBS
connect = 127.0.0.1:$SUB_PORT
cert = $C/chain.pem
key = $C/server.key
sslVersionMin = TLSv1.2
EOF
    log "stunnel: imaps on 127.0.0.1:$ST_IMAPS, submissions on 127.0.0.1:$ST_SUBS"
    "${NICE[@]}" stunnel4 "$TMP/stunnel.conf" >>"$TMP/stunnel.log" 2>&1 &
    STUNNEL_PID=$!
    PIDS+=("$STUNNEL_PID")
    wait_listening "$STUNNEL_PID" "$ST_IMAPS" && wait_listening "$STUNNEL_PID" "$ST_SUBS" ||
        { tail -20 "$TMP/stunnel.log" >&2; die "stunnel did not start"; }
fi

# ---- the plain-text generator (the direct column) ------------------------------

cat >"$TMP/plain-load.py" <<'PY'
"""The direct column: the postern-bench scenarios over plain text (which
postern-bench does not speak), one process per client, the same JSON
fields. Sessions are set up before the clock starts, as there."""
import base64, json, multiprocessing as mp, os, resource, socket, sys, time

scenario, label, port, seconds, clients, size, max_ops = sys.argv[1:8]
port, seconds, clients, size, max_ops = int(port), float(seconds), int(clients), int(size), int(max_ops)
PASSWORD = os.environ["POSTERN_BENCH_PASSWORD"]


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0

    def until(self, marker):
        """Reads up to and including the line that starts with marker (the
        buffer always starts at a line's start)."""
        pos = 0
        while True:
            if self.buf.startswith(marker):
                i = 0
            else:
                i = self.buf.find(b"\r\n" + marker, pos)
                i = i + 2 if i >= 0 else -1
            if i >= 0:
                end = self.buf.find(b"\r\n", i)
                if end >= 0:
                    line, self.buf = self.buf[i:end], self.buf[end + 2:]
                    return line
            else:
                pos = max(0, len(self.buf) - len(marker) - 2)
            chunk = self.s.recv(262144)
            if not chunk:
                raise EOFError("closed by the server")
            self.buf += chunk

    def imap(self, command):
        self.n += 1
        tag = b"a%d" % self.n
        self.s.sendall(tag + b" " + command + b"\r\n")
        line = self.until(tag + b" ")
        if not line.startswith(tag + b" OK"):
            raise RuntimeError(line.decode(errors="replace"))

    def smtp(self, data, code):
        if data:
            self.s.sendall(data)
        while True:
            line = self.until(b"")
            if len(line) < 4 or line[3:4] != b"-":
                break
        if not line.startswith(code):
            raise RuntimeError(line.decode(errors="replace"))


def user(n):
    return f"bench{n}@example.test"


def imap_session(n):
    c = Conn()
    c.until(b"* OK")
    c.imap(f'LOGIN "{user(n)}" "{PASSWORD}"'.encode())
    return c


def message(n, k):
    head = (f"From: <{user(n)}>\r\nTo: <{user(n)}>\r\nSubject: plain {n} {k}\r\n"
            f"Message-ID: <plain.{os.getpid()}.{k}.{time.time()}@example.test>\r\n\r\n")
    body = ("x" * 70 + "\r\n") * max(1, (size - len(head)) // 72)
    return (head + body).encode()


def worker(n, start, queue):
    lat, ops, errors, first = [], 0, 0, None
    try:
        if scenario in ("imap-fetch", "imap-body"):
            c = imap_session(n)
            c.imap(b"SELECT INBOX")
        elif scenario == "smtp-submit":
            c = Conn()
            c.smtp(None, b"220")
            c.smtp(b"EHLO bench.localhost\r\n", b"250")
            token = base64.b64encode(f"\0{user(n)}\0{PASSWORD}".encode())
            c.smtp(b"AUTH PLAIN " + token + b"\r\n", b"235")
    except Exception as e:  # a set-up failure is one error
        queue.put((n, [], 0, 1, f"set-up: {e}"))
        return
    while time.time() < start:
        time.sleep(0.001)
    end, k = start + seconds, 0
    while time.time() < end and ops < max_ops // clients + 1:
        k += 1
        t0 = time.perf_counter()
        try:
            if scenario == "imap-login":
                c = imap_session(n)
                c.imap(b"LOGOUT")
                c.s.close()
            elif scenario == "imap-fetch":
                c.imap(b"FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)")
            elif scenario == "imap-body":
                c.imap(b"FETCH %d BODY.PEEK[]" % ((k - 1) % int(os.environ.get("BENCH_MESSAGES", "200")) + 1))
            elif scenario == "smtp-submit":
                c.smtp(f"MAIL FROM:<{user(n)}>\r\n".encode(), b"250")
                c.smtp(f"RCPT TO:<{user(n)}>\r\n".encode(), b"250")
                c.smtp(b"DATA\r\n", b"354")
                c.s.sendall(message(n, k) + b".\r\n")
                t0 = time.perf_counter()  # as postern-bench: end of data to 250
                c.smtp(None, b"250")
            ops += 1
            lat.append(time.perf_counter() - t0)
        except Exception as e:
            errors += 1
            first = first or str(e)
            if scenario != "imap-login":
                break
    queue.put((n, lat, ops, errors, first))


def pct(sorted_lat, p):
    if not sorted_lat:
        return None
    return round(sorted_lat[min(len(sorted_lat) - 1, int(p / 100 * len(sorted_lat)))] * 1e3, 3)


if __name__ == "__main__":
    queue = mp.Queue()
    start = time.time() + 1.0 + 0.05 * clients
    procs = [mp.Process(target=worker, args=(n, start, queue)) for n in range(clients)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = seconds
    lat = sorted(x for r in results for x in r[1])
    ops = sum(r[2] for r in results)
    errors = sum(r[3] for r in results)
    first = next((r[4] for r in results if r[4]), None)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "scenario": scenario, "label": label, "server": f"127.0.0.1:{port}", "clients": clients,
        "seconds": elapsed, "operations": ops, "ops_per_s": round(ops / elapsed, 1),
        "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": pct(lat, 100)},
        "errors": errors, "first_error": first, "tls": None, "generator": "plain-load.py",
        "client_cpu_s": round(cpu.ru_utime + cpu.ru_stime, 2),
    }
    if scenario == "smtp-submit":
        out.update({"accepted": ops, "messages_per_s": round(ops / elapsed, 1), "unacknowledged": 0})
    print(json.dumps(out, separators=(",", ":")))
    sys.exit(0 if errors == 0 and ops > 0 else 2)
PY

# ---- the runs ----------------------------------------------------------------------

maildir_count() {
    find "$D/mail" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | wc -l
}

# Waits until Postfix's queue is empty (Postfix answers 250 once the message
# is queued, and delivers to Dovecot after).
drain() {
    local i
    for i in $(seq $((DRAIN_LIMIT * 10))); do
        postqueue -c "$X/etc" -p 2>/dev/null | grep -q '^Mail queue is empty' && return 0
        sleep 0.1
    done
    die "Postfix's queue did not drain within ${DRAIN_LIMIT}s"
}

# CPU time (user + system, in clock ticks) of process $1 so far.
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run COLUMN SCENARIO PORT PIDS...: one load run; the JSON goes to
# $RESULTS/COLUMN-SCENARIO.json. A run with errors keeps its figures. The
# first PID (gateway, stunnel) is the TLS front end: its own CPU time in
# the run goes to $RESULTS/COLUMN-SCENARIO.front (seconds).
run() {
    local column=$1 scenario=$2 port=$3 rc=0 out pid before after acc front=""
    shift 3
    out=$RESULTS/$column-$scenario.json
    local pids=()
    for pid in "$@"; do pids+=(--server-pid "$pid"); done
    [ "$column" = direct ] || front=$(cpu_ticks "$1")
    [ "$scenario" = smtp-submit ] && { drain; before=$(maildir_count); }
    log "$column: $scenario, $BENCH_CLIENTS clients, ${BENCH_SECONDS}s"
    if [ "$column" = direct ]; then
        BENCH_MESSAGES=$BENCH_MESSAGES "${NICE[@]}" python3 "$TMP/plain-load.py" "$scenario" "$column" "$port" \
            "$BENCH_SECONDS" "$BENCH_CLIENTS" "$BENCH_SIZE" "$BENCH_MAX_OPS" >"$out" || rc=$?
    else
        "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$column" \
            --connect "127.0.0.1:$port" --ca "$C/ca.pem" --sni localhost \
            --seconds "$BENCH_SECONDS" --clients "$BENCH_CLIENTS" --max-ops "$BENCH_MAX_OPS" \
            --message-size "$BENCH_SIZE" --user-pattern 'bench{n}@example.test' \
            --rcpt-pattern 'bench{n}@example.test' "${pids[@]}" >"$out" || rc=$?
    fi
    cat "$out"
    [ "$rc" = 0 ] || log "WARNING: $column $scenario exited $rc (errors in the run, see above)"
    if [ -n "$front" ]; then
        awk -v a="$front" -v b="$(cpu_ticks "$1")" -v t="$TICKS" 'BEGIN { printf "%.2f\n", (b - a) / t }' \
            >"$RESULTS/$column-$scenario.front"
    fi
    if [ "$scenario" = smtp-submit ]; then
        drain
        after=$(maildir_count)
        acc=$(jfield "$out" accepted)
        if [ "$((after - before))" -ge "${acc:-0}" ]; then v=OK; else v=MISMATCH; fi
        echo "$column smtp-submit: accepted=${acc:-0} stored=$((after - before)) $v" | tee -a "$RESULTS/verify.txt"
    fi
}

cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-start.txt"
for scenario in $BENCH_SCENARIOS; do
    case $scenario in
        imap-*) direct=$IMAP_PORT gw=$GW_IMAPS gwpid=$GW_IMAP_PID st=$ST_IMAPS back=$DOVECOT_PID ;;
        smtp-submit) direct=$SUB_PORT gw=$GW_SUBS gwpid=$GW_SUB_PID st=$ST_SUBS back="$POSTFIX_PID $DOVECOT_PID" ;;
        *) die "unknown scenario $scenario (imap-login, imap-fetch, imap-body, smtp-submit)" ;;
    esac
    # shellcheck disable=SC2086 # $back is a list of PIDs
    run direct "$scenario" "$direct" $back
    # shellcheck disable=SC2086
    run gateway "$scenario" "$gw" "$gwpid" $back
    if [ "$SKIP_STUNNEL" != 1 ]; then
        # shellcheck disable=SC2086
        run stunnel "$scenario" "$st" "$STUNNEL_PID" $back
    fi
done
cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-end.txt"

# ---- summary ------------------------------------------------------------------------

rate() {
    local r
    r=$(field "$1" ops_per_s)
    [ -n "$r" ] && printf '%.1f' "$r" || true
}
lat() {
    local f=$RESULTS/$1.json
    [ -f "$f" ] || { echo "-"; return; }
    awk -v s="$(grep -oE '"latency_ms":\{[^}]*\}' "$f")" 'BEGIN {
        match(s, /"p50":[0-9.]+/); p50 = substr(s, RSTART + 6, RLENGTH - 6);
        match(s, /"p99":[0-9.]+/); p99 = substr(s, RSTART + 6, RLENGTH - 6);
        printf "%.2f/%.2f", p50, p99 }'
}
echo
echo "== summary: ${BENCH_SECONDS}s per run, $BENCH_CLIENTS clients, $(nproc) cores, loopback, nice $(nice)"
echo "Dovecot $DOVECOT_VERSION, Postfix $POSTFIX_VERSION, stunnel: $STUNNEL_VERSION"
printf '%-12s %9s %9s %9s %8s %8s %14s %14s %14s %s\n' scenario direct gateway stunnel gw/st gw/dir \
    "direct p50/99" "gateway p50/99" "stunnel p50/99" "errors d/g/s"
for scenario in $BENCH_SCENARIOS; do
    a=$(rate "direct-$scenario")
    b=$(rate "gateway-$scenario")
    c=$(rate "stunnel-$scenario")
    printf '%-12s %9s %9s %9s %8s %8s %14s %14s %14s %s\n' "$scenario" "${a:--}" "${b:--}" "${c:--}" \
        "$(ratio "$b" "$c")" "$(ratio "$b" "$a")" \
        "$(lat "direct-$scenario")" "$(lat "gateway-$scenario")" "$(lat "stunnel-$scenario")" \
        "$(field "direct-$scenario" errors)/$(field "gateway-$scenario" errors)/$(field "stunnel-$scenario" errors)"
done
echo "(operations per second: imap-login sessions, imap-fetch FETCH 1:* commands, imap-body messages,"
echo " smtp-submit messages acknowledged with 250; latency in ms per operation, SMTP from the end of data to 250)"
echo
echo "== TLS negotiated"
for f in "$RESULTS"/gateway-*.json "$RESULTS"/stunnel-*.json; do
    [ -f "$f" ] || continue
    printf '%s: %s\n' "$(basename "$f" .json)" "$(grep -oE '"tls":\{[^}]*\}' "$f" | head -1)"
done
echo
echo "== CPU per run: the TLS front end alone (s, and ms per operation); front + back end; client; other (s)"
for f in "$RESULTS"/gateway-*.json "$RESULTS"/stunnel-*.json; do
    [ -f "$f" ] || continue
    fr=$(cat "${f%.json}.front" 2>/dev/null || echo "")
    printf '%-20s front=%s (%s ms/op) front+back=%s client=%s other=%s\n' "$(basename "$f" .json)" "${fr:--}" \
        "$(awk -v c="$fr" -v n="$(jfield "$f" operations)" 'BEGIN { if (n > 0 && c != "") printf "%.3f", c * 1e3 / n; else print "-" }')" \
        "$(jfield "$f" server_cpu_s)" "$(jfield "$f" client_cpu_s)" "$(jfield "$f" other_cpu_s)"
done
for f in "$RESULTS"/direct-*.json; do
    [ -f "$f" ] || continue
    printf '%s: client=%s (plain-load.py)\n' "$(basename "$f" .json)" "$(jfield "$f" client_cpu_s)"
done
echo
[ -f "$RESULTS/verify.txt" ] && { echo "== accepted against stored"; cat "$RESULTS/verify.txt"; }
echo "load average: start $(cat "$RESULTS/loadavg-start.txt"), end $(cat "$RESULTS/loadavg-end.txt")"
if [ -f "$RESULTS/verify.txt" ] && grep -q MISMATCH "$RESULTS/verify.txt"; then
    echo "accepted != stored in some run (see above)" >&2
    exit 2
fi
