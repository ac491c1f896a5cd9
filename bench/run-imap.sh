#!/usr/bin/env bash
# The IMAP benchmark, Postern and Dovecot side by side on loopback.
#
# Builds Postern and the load generator in release mode, sets up a private
# Postern and a private Dovecot (no system service: everything lives in a
# temporary directory) with the same accounts, the same messages and the
# same certificate, runs the same scenarios against each, and prints the
# JSON results and the ratios Postern / Dovecot. IMAP over implicit TLS
# (imaps) only: connect+LOGIN+LOGOUT, FETCH 1:* (FLAGS ENVELOPE
# RFC822.SIZE), FETCH n BODY.PEEK[], and the memory of sessions in IDLE.
#
# Every load run is bounded (BENCH_SECONDS per scenario, a cap on the
# operations) and aims at 127.0.0.1 only. Everything started here is
# stopped on exit, by PID.
#
# Settings (environment):
#   BENCH_SECONDS  seconds per scenario run          (default 10)
#   BENCH_CLIENTS  concurrent clients, at most 8      (default 8)
#   BENCH_MESSAGES messages in each INBOX             (default 200)
#   BENCH_IDLE     sessions held in IDLE, one run each (default "1000 10000")
#   BENCH_HOLD     seconds the idle sessions are held  (default 5)
#   SKIP_DOVECOT=1 measure Postern only
#   KEEP_TMP=1     keep the temporary directory (logs, configs, results)
#   BENCH_NICE=-10 run both servers and the load generator at this nice
#                  level, so that other work on a shared machine (a build)
#                  disturbs the figures less; both servers alike
# Needs root for the Dovecot half (apt-get install, privilege dropping) and
# for the open-file limit of 10,000 sessions (ulimit -n, both sides).
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-200}
BENCH_IDLE=${BENCH_IDLE:-1000 10000}
BENCH_HOLD=${BENCH_HOLD:-5}
SKIP_DOVECOT=${SKIP_DOVECOT:-0}
KEEP_TMP=${KEEP_TMP:-0}
# The prefix for every process that is measured or measures.
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
ACCOUNTS=8
# Passed to the load generator through its environment, never on a command
# line (visible in ps). At least 10 characters: Postern's minimum.
export POSTERN_BENCH_PASSWORD='bench password 1939'

# Every idle session is a socket on both sides (and, for Dovecot, a login
# process and an imap process, each with its own descriptors in the
# master): the limit is raised for this shell and everything it starts.
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"


ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-imap.sh: %s\n' "$*" >&2; exit 1; }

# Stops what this script started: TERM, up to 15 s for a graceful exit,
# then KILL. Only the PIDs recorded in PIDS.
cleanup() {
    local pid i
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

[ "$BENCH_CLIENTS" -le "$ACCOUNTS" ] || die "BENCH_CLIENTS is at most $ACCOUNTS (one account per client)"

# True when something listens on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sets FREE_PORT to a free port from 20000 up that was not handed out
# before (a variable, not output: $(...) would run it in a subshell and
# forget TAKEN).
TAKEN=" "
free_port() {
    local p=20000
    while port_in_use "$p" || [[ $TAKEN == *" $p "* ]]; do
        p=$((p + 1))
    done
    TAKEN+="$p "
    FREE_PORT=$p
}

# Waits (at most 30 s) until process $1 listens on port $2.
wait_listening() {
    local i
    for i in $(seq 300); do
        kill -0 "$1" 2>/dev/null || return 1
        port_in_use "$2" && return 0
        sleep 0.1
    done
    return 1
}

# Runs one scenario; the JSON goes to stdout and to $RESULTS/LABEL-SCENARIO.json.
# A run with errors still records its figures (exit 2 of the generator).
# Extra arguments go to the generator.
bench() {
    local label=$1 scenario=$2 port=$3 pid=$4 name=$5 rc=0
    shift 5
    log "$label: $scenario $* (${BENCH_SECONDS}s)"
    "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$label" \
        --connect "127.0.0.1:$port" --ca "$CA" --sni localhost \
        --seconds "$BENCH_SECONDS" --clients "$BENCH_CLIENTS" \
        --user-pattern 'bench{n}@example.test' --server-pid "$pid" "$@" \
        >"$RESULTS/$label-$name.json" || rc=$?
    cat "$RESULTS/$label-$name.json"
    [ "$rc" = 0 ] || log "WARNING: $label $scenario exited $rc (errors in the run, see above)"
}

# imap-idle with $2 sessions spread over the accounts, on a server started
# for it ($1: the label), so that memory freed by earlier runs and kept by
# the allocator does not hide what the sessions take.
bench_idle() {
    local label=$1 n=$2 port=$3 pid=$4 saved=$BENCH_SECONDS
    BENCH_SECONDS=$BENCH_HOLD
    BENCH_CLIENTS=$n bench "$label" imap-idle "$port" "$pid" "imap-idle-$n" \
        --accounts "$ACCOUNTS" --op-timeout 30
    BENCH_SECONDS=$saved
}

# The throughput scenarios; imap-fetch first, on a server that has served
# only the idle runs' logins.
bench_all() {
    local label=$1 port=$2 pid=$3
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/$label-loadavg.txt"
    log "$label: load average before the runs: $(cat "$RESULTS/$label-loadavg.txt")"
    bench "$label" imap-fetch "$port" "$pid" imap-fetch
    bench "$label" imap-body "$port" "$pid" imap-body
    bench "$label" imap-login "$port" "$pid" imap-login
}

# Stops one server started here and waits for it.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# ---- build ------------------------------------------------------------------

log "building postern and postern-bench (release)"
(cd "$ROOT" && cargo build --release --locked -p postern -p postern-bench) >&2
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
POSTERN=$TARGET_DIR/release/postern
BENCH=$TARGET_DIR/release/postern-bench

log "writing $BENCH_MESSAGES messages"
python3 "$ROOT/bench/make-messages.py" "$BENCH_MESSAGES" "$TMP/messages"

# ---- Postern ----------------------------------------------------------------

P=$TMP/postern
CA=$P/certs/main.crt.pem
log "Postern: init in $P"
"$POSTERN" init --dev-ports --hostname localhost --domain example.test --data-dir "$P" >/dev/null
# Keep each dev port when free, else move the listener to a free port.
mapfile -t ports < <(grep -oE '"127\.0\.0\.1:[0-9]+"' "$P/postern.toml" | grep -oE '[0-9]+')
for port in "${ports[@]}"; do
    if port_in_use "$port"; then
        free_port
        sed -i "s/\"127\.0\.0\.1:$port\"/\"127.0.0.1:$FREE_PORT\"/" "$P/postern.toml"
        if [ "$port" = 2993 ]; then POSTERN_PORT=$FREE_PORT; fi
    fi
done
POSTERN_PORT=${POSTERN_PORT:-2993}
grep -q "\"127.0.0.1:$POSTERN_PORT\"" "$P/postern.toml" || die "cannot find the imaps port in postern.toml"
# The imaps listener takes 10,000 sessions from one address (the defaults
# are for the Internet, not for a benchmark from 127.0.0.1).
python3 - "$P/postern.toml" <<'PY'
import re, sys
path = sys.argv[1]
parts = open(path).read().split("[[listener]]")
for i, p in enumerate(parts):
    if re.search(r'^name = "imaps"$', p, re.M):
        p = re.sub(r"^max_connections = \d+", "max_connections = 20000", p, flags=re.M)
        p = re.sub(r"^max_connections_per_ip = \d+", "max_connections_per_ip = 20000", p, flags=re.M)
        parts[i] = p
open(path, "w").write("[[listener]]".join(parts))
PY
grep -A12 '^name = "imaps"' "$P/postern.toml" | grep -q '^max_connections_per_ip = 20000' ||
    die "cannot raise the imaps listener's limits"
# Exit 3 is warnings only (the certificate is self-signed).
"$POSTERN" check --data-dir "$P" >"$TMP/postern-check.txt" 2>&1 || [ $? = 3 ] ||
    { cat "$TMP/postern-check.txt" >&2; die "postern check failed"; }

log "Postern: $ACCOUNTS accounts, $BENCH_MESSAGES messages each"
recipients=()
for i in $(seq 0 $((ACCOUNTS - 1))); do
    printf '%s\n' "$POSTERN_BENCH_PASSWORD" |
        "$POSTERN" user add "bench$i@example.test" --password-stdin --data-dir "$P" >/dev/null
    recipients+=(--to "bench$i@example.test")
done
for f in $(seq 1 "$BENCH_MESSAGES"); do
    "$POSTERN" deliver --data-dir "$P" "${recipients[@]}" <"$TMP/messages/crlf/$f.eml" >/dev/null
done

start_postern() {
    log "Postern: serve (imaps on 127.0.0.1:$POSTERN_PORT)"
    "${NICE[@]}" "$POSTERN" serve --data-dir "$P" >>"$TMP/postern.log" 2>&1 &
    POSTERN_PID=$!
    PIDS+=("$POSTERN_PID")
    wait_listening "$POSTERN_PID" "$POSTERN_PORT" || { tail -20 "$TMP/postern.log" >&2; die "postern did not start"; }
}

for n in $BENCH_IDLE; do
    start_postern
    bench_idle postern "$n" "$POSTERN_PORT" "$POSTERN_PID"
    stop "$POSTERN_PID"
done
start_postern
bench_all postern "$POSTERN_PORT" "$POSTERN_PID"
# Stopped before Dovecot runs, so the two never share the cores.
stop "$POSTERN_PID"

# ---- Dovecot ----------------------------------------------------------------

setup_dovecot() {
    if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/imap ]; then
        log "installing dovecot-imapd"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >&2 ||
            { skip "apt-get install dovecot-imapd failed"; return 1; }
    fi
    DOVECOT_VERSION=$(dovecot --version | cut -d' ' -f1)
    case $DOVECOT_VERSION in
        2.3.*) ;;
        # 2.4 renamed most of the settings used below (mail_driver,
        # ssl_server_cert_file, passdb blocks...): not written here yet.
        *) skip "Dovecot $DOVECOT_VERSION: only a 2.3 configuration is written"; return 1 ;;
    esac
    for u in dovecot dovenull nobody; do
        getent passwd "$u" >/dev/null || { skip "no user $u (the package creates dovecot and dovenull)"; return 1; }
    done
    D=$TMP/dovecot
    mkdir -p "$D/mail" "$D/home" "$D/state" &&
        # The mail processes run as nobody; they must reach $D/mail.
        chmod 711 "$TMP" "$D" || { skip "cannot create $D"; return 1; }

    # The same password as Postern's accounts. doveadm's ARGON2ID is
    # libsodium's (m=64 MiB, t=3); Postern's is m=19 MiB, t=2: the second
    # users file takes Postern's own hashes (libsodium verifies any argon2id
    # PHC string) to compare logins at equal cost.
    if doveadm pw -l | tr ' ' '\n' | grep -qx ARGON2ID; then
        DOVECOT_SCHEME=ARGON2ID
    else
        DOVECOT_SCHEME=SHA512-CRYPT
    fi
    : >"$D/users.doveadm"
    : >"$D/users.postern-params"
    : >"$D/users.fast"
    for i in $(seq 0 $((ACCOUNTS - 1))); do
        user=bench$i@example.test
        hash=$(doveadm pw -s "$DOVECOT_SCHEME" -p "$POSTERN_BENCH_PASSWORD") ||
            { skip "doveadm pw -s $DOVECOT_SCHEME failed"; return 1; }
        echo "$user:$hash::::::" >>"$D/users.doveadm"
        hash=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT password_hash FROM accounts WHERE address = ?", (sys.argv[2],)).fetchone()[0])' "$P/mail.db" "$user") ||
            { skip "cannot read Postern's password hash for $user"; return 1; }
        echo "$user:{ARGON2ID}$hash::::::" >>"$D/users.postern-params"
        hash=$(doveadm pw -s SSHA512 -p "$POSTERN_BENCH_PASSWORD") ||
            { skip "doveadm pw -s SSHA512 failed"; return 1; }
        echo "$user:$hash::::::" >>"$D/users.fast"
    done
    cp "$D/users.doveadm" "$D/users"
    chmod 644 "$D/users" "$D/users.doveadm" "$D/users.postern-params" "$D/users.fast"

    # The same messages, LF line ends as in any maildir, owned by the mail user.
    for i in $(seq 0 $((ACCOUNTS - 1))); do
        md=$D/mail/bench$i@example.test
        mkdir -p "$md/new" "$md/cur" "$md/tmp" "$D/home/bench$i@example.test"
        for f in $(seq 1 "$BENCH_MESSAGES"); do
            cp "$TMP/messages/lf/$f.eml" "$md/new/1700000000.M${f}P1.localhost" ||
                { skip "cannot fill $md"; return 1; }
        done
    done
    chown -R nobody:nogroup "$D/mail" "$D/home" || { skip "cannot chown $D/mail to nobody"; return 1; }

    free_port
    DOVECOT_PORT=$FREE_PORT
    write_dovecot_conf 0
    doveconf -c "$D/dovecot.conf" -n >"$D/doveconf-n.txt" 2>&1 ||
        { skip "doveconf rejects the configuration: $(grep -iE 'error|fatal' "$D/doveconf-n.txt" | head -1)"; return 1; }
}

# Writes $D/dovecot.conf; $1 is auth_cache_size (0: off, as shipped).
write_dovecot_conf() {
    DOVECOT_AUTH_CACHE=$1
    cat >"$D/dovecot.conf" <<EOF
# A private Dovecot $DOVECOT_VERSION for the benchmark (written by bench/run-imap.sh).
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$P/certs/main.crt.pem
ssl_key = <$P/certs/main.key.pem
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = nobody
mail_gid = nogroup
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
# Raised so that 10,000 sessions from one address are served (the
# defaults: 10 per user and address, 100 processes per service, 1000
# clients per process); the processes' model is left as shipped: one
# imap-login process per connection (it stays as the TLS proxy) and one
# imap process per logged-in session.
mail_max_userip_connections = 20000
default_process_limit = 21000
default_client_limit = 50000
default_vsz_limit = 1G
auth_cache_size = $DOVECOT_AUTH_CACHE
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $DOVECOT_PORT
    ssl = yes
  }
  process_limit = 21000
}
service imap {
  process_limit = 21000
}
EOF
}
skip() { echo "$*" >"$TMP/dovecot-skipped"; }

# Starts Dovecot with the users file $1 and auth_cache_size $2.
start_dovecot() {
    cp "$D/$1" "$D/users"
    write_dovecot_conf "$2"
    log "Dovecot $DOVECOT_VERSION: serve (imaps on 127.0.0.1:$DOVECOT_PORT, $1, auth_cache_size $2)"
    "${NICE[@]}" dovecot -F -c "$D/dovecot.conf" >>"$D/dovecot.log" 2>&1 &
    DOVECOT_PID=$!
    PIDS+=("$DOVECOT_PID")
    wait_listening "$DOVECOT_PID" "$DOVECOT_PORT" || { tail -20 "$D/dovecot.log" >&2; die "dovecot did not start"; }
}

run_dovecot() {
    # The idle runs: each of 10,000 logins would pay argon2id (Dovecot's
    # cache does not spare the verification with passwd-file: minutes of
    # hashing that say nothing about memory), so these use salted SHA-512
    # hashes, as cheap as Postern's cached logins.
    for n in $BENCH_IDLE; do
        start_dovecot users.fast 0
        bench_idle dovecot "$n" "$DOVECOT_PORT" "$DOVECOT_PID"
        stop "$DOVECOT_PID"
    done
    # As shipped: no authentication cache, doveadm's argon2id parameters.
    start_dovecot users.doveadm 0
    bench_all dovecot "$DOVECOT_PORT" "$DOVECOT_PID"
    stop "$DOVECOT_PID"
    # Logins at Postern's argon2id cost, then with the cache on.
    start_dovecot users.postern-params 0
    bench dovecot-postern-hash imap-login "$DOVECOT_PORT" "$DOVECOT_PID" imap-login
    stop "$DOVECOT_PID"
    start_dovecot users.postern-params 10M
    bench dovecot-auth-cache imap-login "$DOVECOT_PORT" "$DOVECOT_PID" imap-login
    stop "$DOVECOT_PID"
    grep -iE 'error|fatal|panic' "$D/dovecot.log" | head -5 >&2 || true
}

DOVECOT_SKIPPED=""
if [ "$SKIP_DOVECOT" = 1 ]; then
    DOVECOT_SKIPPED="SKIP_DOVECOT=1"
elif [ "$(id -u)" != 0 ]; then
    DOVECOT_SKIPPED="not root (needed to install Dovecot and for its privilege separation)"
elif ! setup_dovecot; then
    DOVECOT_SKIPPED=$(cat "$TMP/dovecot-skipped" 2>/dev/null || echo "setup failed")
else
    run_dovecot
fi

# ---- summary ----------------------------------------------------------------

other_cpu() {
    local f line="other CPU s per run:"
    for f in "$RESULTS"/*-imap-*.json; do
        f=$(basename "$f" .json)
        line+=" $f=$(field "$f" other_cpu_s)"
    done
    echo "$line"
}

# One numeric field of a result file (flat "key":number pairs).
field() { grep -oE "\"$2\":-?[0-9.]+" "$RESULTS/$1.json" 2>/dev/null | head -1 | cut -d: -f2 || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "== summary ($BENCH_CLIENTS clients, ${BENCH_SECONDS}s per run, $(nproc) cores, loopback, nice ${BENCH_NICE:-0})"
[ -z "$DOVECOT_SKIPPED" ] || echo "Dovecot not measured: $DOVECOT_SKIPPED"
printf '%-40s %12s %12s %8s\n' "" postern dovecot ratio
row() {
    local name=$1 a b
    a=$(field "postern-$2" "$3")
    b=$(field "$4-$2" "$3")
    printf '%-40s %12s %12s %8s\n' "$name" "$a" "$b" "$(ratio "$a" "$b")"
}
row "LOGIN sessions/s (Dovecot as shipped)" imap-login ops_per_s dovecot
row "LOGIN sessions/s (equal argon2id)" imap-login ops_per_s dovecot-postern-hash
row "LOGIN sessions/s (Dovecot auth cache)" imap-login ops_per_s dovecot-auth-cache
row "FETCH 1:* commands/s" imap-fetch commands_per_s dovecot
row "BODY.PEEK[] messages/s" imap-body messages_per_s dovecot
row "BODY.PEEK[] MB/s" imap-body mb_per_s dovecot
for n in $BENCH_IDLE; do
    row "RSS KiB per idle session ($n)" "imap-idle-$n" rss_kb_per_connection dovecot
    row "PSS KiB per idle session ($n)" "imap-idle-$n" pss_kb_per_connection dovecot
done
echo "load average before the runs: postern $(cat "$RESULTS/postern-loadavg.txt" 2>/dev/null), dovecot $(cat "$RESULTS/dovecot-loadavg.txt" 2>/dev/null)"
other_cpu
