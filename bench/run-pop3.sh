#!/usr/bin/env bash
# The POP3 benchmark, Postern and Dovecot side by side on loopback.
#
# Builds Postern and the load generator in release mode, sets up a private
# Postern and a private Dovecot (no system service: everything lives in a
# temporary directory) with the same accounts, the same messages and the
# same certificate, runs the same scenarios against each, and prints the
# JSON results and the ratios Postern / Dovecot.
#
# Every load run is bounded (BENCH_SECONDS per scenario, a cap on the
# operations) and aims at 127.0.0.1 only. Everything started here is
# stopped on exit, by PID.
#
# Settings (environment):
#   BENCH_SECONDS  seconds per scenario run          (default 10)
#   BENCH_CLIENTS  concurrent clients, at most 8      (default 8)
#   BENCH_MESSAGES messages in each maildrop          (default 200)
#   SKIP_DOVECOT=1 measure Postern only
#   KEEP_TMP=1     keep the temporary directory (logs, configs, results)
#   BENCH_NICE=-10 run both servers and the load generator at this nice
#                  level, so that other work on a shared machine (a build)
#                  disturbs the figures less; both servers alike
# Needs root for the Dovecot half (apt-get install, privilege dropping).
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-200}
SKIP_DOVECOT=${SKIP_DOVECOT:-0}
KEEP_TMP=${KEEP_TMP:-0}
# The prefix for every process that is measured or measures.
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
ACCOUNTS=8
# Passed to the load generator through its environment, never on a command
# line (visible in ps). At least 10 characters: Postern's minimum.
export POSTERN_BENCH_PASSWORD='bench password 1939'

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-pop3.sh: %s\n' "$*" >&2; exit 1; }

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
bench() {
    local label=$1 scenario=$2 port=$3 pid=$4 ca=$5 rc=0
    log "$label: $scenario (${BENCH_SECONDS}s, $BENCH_CLIENTS clients)"
    "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$label" \
        --connect "127.0.0.1:$port" --ca "$ca" --sni localhost \
        --seconds "$BENCH_SECONDS" --clients "$BENCH_CLIENTS" \
        --user-pattern 'bench{n}@example.test' --server-pid "$pid" \
        >"$RESULTS/$label-$scenario.json" || rc=$?
    cat "$RESULTS/$label-$scenario.json"
    [ "$rc" = 0 ] || log "WARNING: $label $scenario exited $rc (errors in the run, see above)"
}

# The three scenarios against one server; pop3-retr first, so the memory
# figures come from a server that has served nothing yet.
bench_all() {
    local label=$1 port=$2 pid=$3 ca=$4
    # Other work on the machine skews everything: keep the load beside the figures.
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/$label-loadavg.txt"
    log "$label: load average before the runs: $(cat "$RESULTS/$label-loadavg.txt")"
    bench "$label" pop3-retr "$port" "$pid" "$ca"
    bench "$label" pop3-sessions "$port" "$pid" "$ca"
    bench "$label" pop3-connect "$port" "$pid" "$ca"
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
log "Postern: init in $P"
"$POSTERN" init --dev-ports --hostname localhost --domain example.test --data-dir "$P" >/dev/null
# Keep each dev port when free, else move the listener to a free port.
mapfile -t ports < <(grep -oE '"127\.0\.0\.1:[0-9]+"' "$P/postern.toml" | grep -oE '[0-9]+')
for port in "${ports[@]}"; do
    if port_in_use "$port"; then
        free_port
        sed -i "s/\"127\.0\.0\.1:$port\"/\"127.0.0.1:$FREE_PORT\"/" "$P/postern.toml"
        if [ "$port" = 2995 ]; then POSTERN_PORT=$FREE_PORT; fi
    fi
done
POSTERN_PORT=${POSTERN_PORT:-2995}
grep -q "\"127.0.0.1:$POSTERN_PORT\"" "$P/postern.toml" || die "cannot find the pop3s port in postern.toml"
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

log "Postern: serve (pop3s on 127.0.0.1:$POSTERN_PORT)"
"${NICE[@]}" "$POSTERN" serve --data-dir "$P" >"$TMP/postern.log" 2>&1 &
POSTERN_PID=$!
PIDS+=("$POSTERN_PID")
wait_listening "$POSTERN_PID" "$POSTERN_PORT" || { tail -20 "$TMP/postern.log" >&2; die "postern did not start"; }

bench_all postern "$POSTERN_PORT" "$POSTERN_PID" "$P/certs/main.crt.pem"

# Stopped before Dovecot runs, so the two never share the cores.
kill -TERM "$POSTERN_PID"
wait "$POSTERN_PID" 2>/dev/null || true

# ---- Dovecot ----------------------------------------------------------------

# Sets up a private Dovecot 2.3 under $TMP/dovecot. Where it cannot, it
# says why in $TMP/dovecot-skipped and fails; the caller then reports
# Postern alone. (Called in an `if`, where set -e is off: every step that
# can fail is checked.)
setup_dovecot() {
    if ! command -v dovecot >/dev/null; then
        log "installing dovecot-pop3d"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-pop3d >&2 ||
            { skip "apt-get install dovecot-pop3d failed"; return 1; }
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
    done
    cp "$D/users.doveadm" "$D/users"
    chmod 644 "$D/users" "$D/users.doveadm" "$D/users.postern-params"

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
    cat >"$D/dovecot.conf" <<EOF
# A private Dovecot $DOVECOT_VERSION for the benchmark (written by bench/run-pop3.sh).
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = pop3
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
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = $DOVECOT_PORT
    ssl = yes
  }
}
EOF
    doveconf -c "$D/dovecot.conf" -n >"$D/doveconf-n.txt" 2>&1 ||
        { skip "doveconf rejects the configuration: $(grep -iE 'error|fatal' "$D/doveconf-n.txt" | head -1)"; return 1; }
}
skip() { echo "$*" >"$TMP/dovecot-skipped"; }

run_dovecot() {
    log "Dovecot $DOVECOT_VERSION: serve (pop3s on 127.0.0.1:$DOVECOT_PORT, passwords $DOVECOT_SCHEME)"
    "${NICE[@]}" dovecot -F -c "$D/dovecot.conf" >>"$D/dovecot.log" 2>&1 &
    DOVECOT_PID=$!
    PIDS+=("$DOVECOT_PID")
    wait_listening "$DOVECOT_PID" "$DOVECOT_PORT" || { tail -20 "$D/dovecot.log" >&2; die "dovecot did not start"; }

    bench_all dovecot "$DOVECOT_PORT" "$DOVECOT_PID" "$P/certs/main.crt.pem"
    # Logins again with Postern's argon2id parameters (passwd-file is
    # re-read when it changes).
    cp "$D/users.postern-params" "$D/users.new" && mv "$D/users.new" "$D/users"
    bench dovecot-postern-hash pop3-sessions "$DOVECOT_PORT" "$DOVECOT_PID" "$P/certs/main.crt.pem"

    kill -TERM "$DOVECOT_PID"
    wait "$DOVECOT_PID" 2>/dev/null || true
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

# CPU seconds that neither the server nor the load generator used in each
# run: other work on the machine, which makes that run's figures low.
other_cpu() {
    local f line="other CPU s per run (of $(($(nproc) * BENCH_SECONDS)) available):"
    for f in "$RESULTS"/*-pop3-*.json; do
        f=$(basename "$f" .json)
        line+=" $f=$(field "$f" other_cpu_s)"
    done
    echo "$line"
}

# One numeric field of a result file (flat "key":number pairs).
field() { grep -oE "\"$2\":-?[0-9.]+" "$RESULTS/$1.json" | head -1 | cut -d: -f2 || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "== summary ($BENCH_CLIENTS clients, ${BENCH_SECONDS}s per run, $(nproc) cores, loopback, nice ${BENCH_NICE:-0})"
if [ -n "$DOVECOT_SKIPPED" ]; then
    echo "Dovecot not measured: $DOVECOT_SKIPPED"
    echo "postern pop3-sessions/s: $(field postern-pop3-sessions ops_per_s)"
    echo "postern pop3-retr msg/s: $(field postern-pop3-retr ops_per_s)"
    echo "load average before the runs: $(cat "$RESULTS/postern-loadavg.txt")"
    other_cpu
    exit 0
fi
printf '%-32s %12s %12s %8s\n' "" postern dovecot ratio
row() {
    local name=$1 a b
    a=$(field "postern-$2" "$3")
    b=$(field "$4-$2" "$3")
    printf '%-32s %12s %12s %8s\n' "$name" "$a" "$b" "$(ratio "$a" "$b")"
}
row "sessions/s" pop3-sessions ops_per_s dovecot
row "sessions/s (equal argon2id)" pop3-sessions ops_per_s dovecot-postern-hash
row "TLS connects/s (no login)" pop3-connect ops_per_s dovecot
row "RETR messages/s" pop3-retr ops_per_s dovecot
row "RETR MB/s" pop3-retr mb_per_s dovecot
row "RSS kB per connection" pop3-retr rss_kb_per_connection dovecot
row "PSS kB per connection" pop3-retr pss_kb_per_connection dovecot
echo "(Dovecot's passwords: $DOVECOT_SCHEME via doveadm pw; 'equal argon2id' uses Postern's hashes)"
echo "load average before the runs: postern $(cat "$RESULTS/postern-loadavg.txt"), dovecot $(cat "$RESULTS/dovecot-loadavg.txt")"
other_cpu
