#!/usr/bin/env bash
# The webmail benchmark: Postern's HTTPS message list and message page on a
# large INBOX, on loopback.
#
# Builds Postern and the load generator in release mode, sets up a private
# Postern in a temporary directory with two accounts whose INBOX holds the
# same BENCH_MESSAGES messages of bench/make-messages.py (imported as a
# Maildir): web0@example.test with every message unread, web1@example.test
# with every message read. Then, each client logged in once through the
# login form, HTTP/1.1 kept alive on one TLS connection per client:
#   web-list        GET /mail/INBOX?page=K, K spread over every page (web0)
#   web-open        GET /mail/INBOX/UID, UIDs spread over the INBOX (web0):
#                   the first opening of a message, which also stores its
#                   \Seen flag (a durable write)
#   web-open-seen   the same on web1, whose messages are all read already:
#                   a page read and nothing written
# There is no comparison: Dovecot and Postfix have no webmail.
#
# Every load run is bounded (BENCH_SECONDS, a cap on the requests) and aims
# at 127.0.0.1 only. Everything started here is stopped on exit, by PID.
#
# Settings (environment):
#   BENCH_SECONDS  seconds per scenario run            (default 10)
#   BENCH_CLIENTS  concurrent clients, at most 16       (default 8)
#   BENCH_MESSAGES messages in each INBOX               (default 10000)
#   KEEP_TMP=1     keep the temporary directory (logs, config, results)
#   BENCH_NICE=-10 run the server and the load generator at this nice
#                  level, so that other work on a shared machine (a build)
#                  disturbs the figures less
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-10000}
KEEP_TMP=${KEEP_TMP:-0}
# The prefix for every process that is measured or measures.
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
# Passed to the load generator through its environment, never on a command
# line (visible in ps). At least 10 characters: Postern's minimum.
export POSTERN_BENCH_PASSWORD='bench password 1939'

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-web.sh: %s\n' "$*" >&2; exit 1; }

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

# The webmail keeps at most 16 sessions per account (a new login drops the
# oldest), and every client here logs in to the same account.
if [ "$BENCH_CLIENTS" -lt 1 ] || [ "$BENCH_CLIENTS" -gt 16 ]; then
    die "BENCH_CLIENTS is 1 to 16 (sessions of one account)"
fi
[ "$BENCH_MESSAGES" -ge 1 ] || die "BENCH_MESSAGES must be at least 1"

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

# Runs one scenario as account $3; the JSON goes to stdout and to
# $RESULTS/NAME.json. A run with errors still records its figures (exit 2
# of the generator).
bench() {
    local name=$1 scenario=$2 user=$3 rc=0
    log "$name: $scenario as $user (${BENCH_SECONDS}s, $BENCH_CLIENTS clients)"
    "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$name" \
        --connect "127.0.0.1:$HTTPS_PORT" --ca "$CA" --sni localhost \
        --seconds "$BENCH_SECONDS" --clients "$BENCH_CLIENTS" \
        --user-pattern "$user" --server-pid "$POSTERN_PID" \
        >"$RESULTS/$name.json" || rc=$?
    cat "$RESULTS/$name.json"
    [ "$rc" = 0 ] || log "WARNING: $name exited $rc (errors in the run, see above)"
}

# ---- build ------------------------------------------------------------------

log "building postern and postern-bench (release)"
(cd "$ROOT" && cargo build --release --locked -p postern -p postern-bench) >&2
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
POSTERN=$TARGET_DIR/release/postern
BENCH=$TARGET_DIR/release/postern-bench

log "writing $BENCH_MESSAGES messages"
python3 "$ROOT/bench/make-messages.py" "$BENCH_MESSAGES" "$TMP/messages"

# Two Maildirs of the same files (hard links): new/ (unread) and cur/ with
# the S flag (read). The names' leading timestamps give the import order,
# so message N gets UID N.
for kind in unread read; do
    mkdir -p "$TMP/maildir-$kind/new" "$TMP/maildir-$kind/cur" "$TMP/maildir-$kind/tmp"
done
for n in $(seq 1 "$BENCH_MESSAGES"); do
    name=$((1700000000 + n)).M${n}P1.localhost
    ln "$TMP/messages/lf/$n.eml" "$TMP/maildir-unread/new/$name"
    ln "$TMP/messages/lf/$n.eml" "$TMP/maildir-read/cur/$name:2,S"
done

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
        if [ "$port" = 8443 ]; then HTTPS_PORT=$FREE_PORT; fi
    fi
done
HTTPS_PORT=${HTTPS_PORT:-8443}
grep -A3 '^name = "https"' "$P/postern.toml" | grep -q "\"127.0.0.1:$HTTPS_PORT\"" ||
    die "cannot find the https port in postern.toml"
# Exit 3 is warnings only (the certificate is self-signed).
"$POSTERN" check --data-dir "$P" >"$TMP/postern-check.txt" 2>&1 || [ $? = 3 ] ||
    { cat "$TMP/postern-check.txt" >&2; die "postern check failed"; }

for i in 0 1; do
    printf '%s\n' "$POSTERN_BENCH_PASSWORD" |
        "$POSTERN" user add "web$i@example.test" --password-stdin --data-dir "$P" >/dev/null
done
for pair in 0:unread 1:read; do
    i=${pair%%:*} kind=${pair#*:}
    log "Postern: importing $BENCH_MESSAGES $kind messages into web$i@example.test"
    start=$(date +%s.%N)
    "$POSTERN" import --maildir "$TMP/maildir-$kind" --to "web$i@example.test" --data-dir "$P" >"$TMP/import-$i.txt"
    end=$(date +%s.%N)
    log "$(cat "$TMP/import-$i.txt") ($(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s)"
    grep -q "^Imported $BENCH_MESSAGES messages" "$TMP/import-$i.txt" ||
        die "web$i@example.test: not every message was imported"
done

log "Postern: serve (https on 127.0.0.1:$HTTPS_PORT)"
"${NICE[@]}" "$POSTERN" serve --data-dir "$P" >>"$TMP/postern.log" 2>&1 &
POSTERN_PID=$!
PIDS+=("$POSTERN_PID")
wait_listening "$POSTERN_PID" "$HTTPS_PORT" || { tail -20 "$TMP/postern.log" >&2; die "postern did not start"; }

# Other work on the machine skews everything: keep the load beside the figures.
cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg.txt"
log "load average before the runs: $(cat "$RESULTS/loadavg.txt")"
bench web-list web-list web0@example.test
bench web-open web-open web0@example.test
bench web-open-seen web-open web1@example.test
# Past BENCH_MESSAGES requests the first run comes back to messages it
# opened already: no longer first openings only.
opened=$(grep -oE '"operations":[0-9]+' "$RESULTS/web-open.json" | cut -d: -f2 || true)
if [ -n "$opened" ] && [ "$opened" -gt "$BENCH_MESSAGES" ]; then
    log "WARNING: web-open made $opened requests for $BENCH_MESSAGES messages: some were not first openings"
fi

kill -TERM "$POSTERN_PID" 2>/dev/null || true
wait "$POSTERN_PID" 2>/dev/null || true
grep -iE '"level":"(ERROR|WARN)"| ERROR | WARN ' "$TMP/postern.log" | head -5 >&2 || true

# ---- summary ----------------------------------------------------------------

# One numeric field of a result file; the latency fields are the first
# p50/p99/max in it (latency_ms comes before any other percentiles).
field() { grep -oE "\"$2\":-?[0-9.]+" "$RESULTS/$1.json" 2>/dev/null | head -1 | cut -d: -f2 || true; }

echo
echo "== summary ($BENCH_MESSAGES messages in the INBOX, $BENCH_CLIENTS clients, ${BENCH_SECONDS}s per run, $(nproc) cores, loopback, nice ${BENCH_NICE:-0})"
printf '%-16s %10s %9s %9s %9s %8s %9s %11s %9s\n' run req/s p50_ms p99_ms max_ms errors kB/page cpu_ms/req other_cpu
for name in web-list web-open web-open-seen; do
    printf '%-16s %10s %9s %9s %9s %8s %9s %11s %9s\n' "$name" \
        "$(field "$name" requests_per_s)" "$(field "$name" p50)" "$(field "$name" p99)" \
        "$(field "$name" max)" "$(field "$name" errors)" "$(field "$name" kb_per_page)" \
        "$(field "$name" server_cpu_ms_per_op)" "$(field "$name" other_cpu_s)"
done
echo "load average before the runs: $(cat "$RESULTS/loadavg.txt")"
