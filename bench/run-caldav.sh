#!/usr/bin/env bash
# The CalDAV benchmark, Postern and Radicale side by side on loopback.
#
# Builds Postern and the load generator in release mode, sets up a private
# Postern (as `postern init --dev-ports` does) and a private Radicale
# (Debian's package, no system service: its configuration, user file and
# collections live in a temporary directory), both over TLS with the same
# certificate, both with the same account. Then, with the same client and
# the same generated calendar (BENCH_EVENTS events over 2026-2027, every
# tenth recurring weekly or daily, about two fifths with a TZID and its
# VTIMEZONE):
#   caldav-load   MKCALENDAR, then every event PUT once (BENCH_LOAD_CLIENTS
#                 clients share the work)
#   caldav-query  REPORT calendar-query for one month's VEVENTs with
#                 <C:expand>, BENCH_CLIENTS clients; every answer is checked
#                 against what the generator says is in the month
#   caldav-put    BENCH_PUT_CLIENTS clients PUT new events (If-None-Match: *)
#                 into a second calendar
# The query and put runs are repeated BENCH_ROUNDS times, the servers taking
# turns, so that other work on the machine falls on both alike. The summary
# shows the median of the rounds, their spread (min-max), and the ratio
# Postern / Radicale of the medians.
#
# Every load run is bounded (BENCH_SECONDS, a cap on the requests; the
# load at most BENCH_LOAD_BOUND seconds: Radicale's PUT slows down as the
# calendar grows, and loading 5,000 events takes it minutes) and aims at
# 127.0.0.1 only. Everything started here
# is stopped on exit, by PID.
#
# Settings (environment):
#   BENCH_SECONDS       seconds per query or put run          (default 10)
#   BENCH_CLIENTS       query clients                         (default 8)
#   BENCH_PUT_CLIENTS   put clients                           (default 20)
#   BENCH_LOAD_CLIENTS  clients loading the calendar          (default 8)
#   BENCH_LOAD_BOUND    seconds the load may take at most     (default 1800)
#   BENCH_EVENTS        events in the calendar                (default 5000)
#   BENCH_MONTH         the month queried, YYYY-MM            (default 2026-06)
#   BENCH_ROUNDS        query and put runs per server         (default 2)
#   RADICALE_HASH       plain or bcrypt: the htpasswd entries  (default plain)
#   SKIP_RADICALE=1     measure Postern only
#   SKIP_BUILD=1        use target/release's binaries as they are
#   KEEP_TMP=1          keep the temporary directory (logs, configs, results)
#   BENCH_NICE=-10      run both servers and the load generator at this nice
#                       level (both alike)
# Installs Debian's radicale (and python3-bcrypt for RADICALE_HASH=bcrypt)
# with apt-get when missing, which needs root.
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_PUT_CLIENTS=${BENCH_PUT_CLIENTS:-20}
BENCH_LOAD_CLIENTS=${BENCH_LOAD_CLIENTS:-8}
BENCH_LOAD_BOUND=${BENCH_LOAD_BOUND:-1800}
BENCH_EVENTS=${BENCH_EVENTS:-5000}
BENCH_MONTH=${BENCH_MONTH:-2026-06}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
RADICALE_HASH=${RADICALE_HASH:-plain}
SKIP_RADICALE=${SKIP_RADICALE:-0}
KEEP_TMP=${KEEP_TMP:-0}
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
USER_NAME=bench@example.test
# Passed to the load generator through its environment, never on a command
# line (visible in ps). At least 10 characters: Postern's minimum.
export POSTERN_BENCH_PASSWORD='bench password 1939'

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-caldav.sh: %s\n' "$*" >&2; exit 1; }

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

[ "$BENCH_ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"
case $RADICALE_HASH in plain | bcrypt) ;; *) die "RADICALE_HASH is plain or bcrypt" ;; esac

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

# bench NAME SERVER SCENARIO CLIENTS SECONDS [ARGS...]: one run against
# SERVER (postern or radicale); the JSON goes to $RESULTS/NAME.json and to
# stdout. A run with errors still records its figures (exit 2). A request
# may take up to 60 s before it counts as an error: Radicale's answers
# took up to 10 s under load on a busy machine.
bench() {
    local name=$1 server=$2 scenario=$3 clients=$4 seconds=$5 rc=0
    shift 5
    local port=$POSTERN_PORT pid=$POSTERN_PID home="/dav/calendars/{user}/"
    if [ "$server" = radicale ]; then
        port=$RADICALE_PORT pid=$RADICALE_PID home="/{user}/"
    fi
    log "$name: $scenario against $server ($clients clients, ${seconds}s)"
    "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$name" \
        --connect "127.0.0.1:$port" --ca "$CA" --sni localhost \
        --seconds "$seconds" --clients "$clients" --user-pattern "$USER_NAME" \
        --dav-home "$home" --events "$BENCH_EVENTS" --month "$BENCH_MONTH" \
        --server-pid "$pid" --op-timeout 60 "$@" >"$RESULTS/$name.json" || rc=$?
    cat "$RESULTS/$name.json"
    [ "$rc" = 0 ] || log "WARNING: $name exited $rc (errors in the run, see above)"
}

# ---- build ------------------------------------------------------------------

if [ "${SKIP_BUILD:-0}" = 1 ]; then
    log "SKIP_BUILD=1: the release binaries as they are"
else
    log "building postern and postern-bench (release)"
    (cd "$ROOT" && nice cargo build --release --locked -p postern -p postern-bench) >&2
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
POSTERN=$TARGET_DIR/release/postern
BENCH=$TARGET_DIR/release/postern-bench

# ---- Postern ----------------------------------------------------------------

P=$TMP/postern
CA=$P/certs/main.crt.pem
log "Postern: init in $P"
"$POSTERN" init --dev-ports --hostname localhost --domain example.test --data-dir "$P" >/dev/null
# Keep each dev port when free, else move the listener to a free port.
mapfile -t ports < <(grep -oE '"127\.0\.0\.1:[0-9]+"' "$P/postern.toml" | grep -oE '[0-9]+')
for port in "${ports[@]}"; do
    TAKEN+="$port "
    if port_in_use "$port"; then
        free_port
        sed -i "s/\"127\.0\.0\.1:$port\"/\"127.0.0.1:$FREE_PORT\"/" "$P/postern.toml"
        if [ "$port" = 8443 ]; then POSTERN_PORT=$FREE_PORT; fi
    fi
done
POSTERN_PORT=${POSTERN_PORT:-8443}
grep -A3 '^name = "https"' "$P/postern.toml" | grep -q "\"127.0.0.1:$POSTERN_PORT\"" ||
    die "cannot find the https port in postern.toml"
# Exit 3 is warnings only (the certificate is self-signed).
"$POSTERN" check --data-dir "$P" >"$TMP/postern-check.txt" 2>&1 || [ $? = 3 ] ||
    { cat "$TMP/postern-check.txt" >&2; die "postern check failed"; }
printf '%s\n' "$POSTERN_BENCH_PASSWORD" |
    "$POSTERN" user add "$USER_NAME" --password-stdin --data-dir "$P" >/dev/null

log "Postern: serve (https on 127.0.0.1:$POSTERN_PORT)"
"${NICE[@]}" "$POSTERN" serve --data-dir "$P" >>"$TMP/postern.log" 2>&1 &
POSTERN_PID=$!
PIDS+=("$POSTERN_PID")
wait_listening "$POSTERN_PID" "$POSTERN_PORT" || { tail -20 "$TMP/postern.log" >&2; die "postern did not start"; }

# ---- Radicale ---------------------------------------------------------------

RADICALE_SKIPPED=""
setup_radicale() {
    local need=(radicale)
    [ "$RADICALE_HASH" = plain ] || need+=(python3-bcrypt)
    local pkg missing=()
    for pkg in "${need[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        [ "$(id -u)" = 0 ] || { RADICALE_SKIPPED="${missing[*]} not installed, and installing needs root"; return 1; }
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 ||
            { RADICALE_SKIPPED="apt-get install ${missing[*]} failed"; return 1; }
    fi
    RADICALE_VERSION=$(radicale --version 2>/dev/null || echo unknown)
    R=$TMP/radicale
    mkdir -p "$R/collections"
    # The password never goes on a command line: python reads it from the
    # environment. bcrypt at its library's default cost (12).
    if [ "$RADICALE_HASH" = bcrypt ]; then
        python3 -c 'import bcrypt, os, sys
p = os.environ["POSTERN_BENCH_PASSWORD"].encode()
print(sys.argv[1] + ":" + bcrypt.hashpw(p, bcrypt.gensalt()).decode())' "$USER_NAME" >"$R/users"
    else
        printf '%s:%s\n' "$USER_NAME" "$POSTERN_BENCH_PASSWORD" >"$R/users"
    fi
    chmod 600 "$R/users"
    free_port
    RADICALE_PORT=$FREE_PORT
    # The same certificate and key as Postern. max_connections raised from
    # 8 so that Radicale, which closes the connection after each answer,
    # does not queue the 20 put clients at accept; the rest as shipped
    # (owner_only rights, fsync on, multifilesystem storage).
    cat >"$R/config" <<EOF
[server]
hosts = 127.0.0.1:$RADICALE_PORT
max_connections = 64
ssl = True
certificate = $P/certs/main.crt.pem
key = $P/certs/main.key.pem

[auth]
type = htpasswd
htpasswd_filename = $R/users
htpasswd_encryption = $RADICALE_HASH

[rights]
type = owner_only

[storage]
filesystem_folder = $R/collections

[logging]
level = warning
EOF
    log "Radicale $RADICALE_VERSION: serve (https on 127.0.0.1:$RADICALE_PORT, htpasswd $RADICALE_HASH)"
    "${NICE[@]}" radicale --config "$R/config" >>"$R/radicale.log" 2>&1 &
    RADICALE_PID=$!
    PIDS+=("$RADICALE_PID")
    wait_listening "$RADICALE_PID" "$RADICALE_PORT" ||
        { tail -20 "$R/radicale.log" >&2; RADICALE_SKIPPED="radicale did not start"; return 1; }
}

SERVERS=(postern)
if [ "$SKIP_RADICALE" = 1 ]; then
    RADICALE_SKIPPED="SKIP_RADICALE=1"
elif setup_radicale; then
    SERVERS+=(radicale)
fi

# ---- runs -------------------------------------------------------------------

cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-before.txt"
log "load average before the runs: $(cat "$RESULTS/loadavg-before.txt")"
for server in "${SERVERS[@]}"; do
    bench "$server-load" "$server" caldav-load "$BENCH_LOAD_CLIENTS" "$BENCH_LOAD_BOUND"
done
for round in $(seq "$BENCH_ROUNDS"); do
    for server in "${SERVERS[@]}"; do
        bench "$server-query-$round" "$server" caldav-query "$BENCH_CLIENTS" "$BENCH_SECONDS"
    done
    for server in "${SERVERS[@]}"; do
        bench "$server-put-$round" "$server" caldav-put "$BENCH_PUT_CLIENTS" "$BENCH_SECONDS"
    done
done
cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-after.txt"

grep -iE '"level":"(ERROR|WARN)"| ERROR | WARN ' "$TMP/postern.log" | head -5 >&2 || true
[ -z "${R:-}" ] || grep -iE 'error|critical|traceback' "$R/radicale.log" | head -5 >&2 || true

# ---- summary ----------------------------------------------------------------

# One field of a result file (the first match: latency_ms comes before
# any other percentiles).
field() { grep -oE "\"$2\":(-?[0-9.]+|true|false|\"[a-z]+\")" "$RESULTS/$1.json" 2>/dev/null | head -1 | cut -d: -f2 | tr -d '"' || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# "median (min-max)" of a field over the rounds of SERVER-KIND-N.
spread() {
    local server=$1 kind=$2 key=$3 r values=()
    for r in $(seq "$BENCH_ROUNDS"); do
        values+=("$(field "$server-$kind-$r" "$key")")
    done
    printf '%s\n' "${values[@]}" | { grep -E '^[0-9.]+$' || true; } | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (NR == 1) printf "%.1f\n", m; else printf "%.1f (%.1f-%.1f)\n", m, v[1], v[NR] }'
}
median() { spread "$@" | cut -d' ' -f1; }

echo
echo "== summary ($BENCH_EVENTS events, month $BENCH_MONTH, ${BENCH_SECONDS}s per run, $BENCH_ROUNDS rounds, $(nproc) cores, loopback, nice ${BENCH_NICE:-0})"
[ -z "$RADICALE_SKIPPED" ] || echo "Radicale not measured: $RADICALE_SKIPPED"
[ -n "$RADICALE_SKIPPED" ] || echo "Radicale ${RADICALE_VERSION:-}, htpasswd $RADICALE_HASH"
printf '%-34s %24s %24s %7s\n' "median (min-max)" postern radicale ratio
row() {
    local label=$1 kind=$2 key=$3 a b
    a=$(spread postern "$kind" "$key")
    b=$(spread radicale "$kind" "$key")
    printf '%-34s %24s %24s %7s\n' "$label" "$a" "$b" \
        "$(ratio "$(median postern "$kind" "$key")" "$(median radicale "$kind" "$key")")"
}
one() {
    local label=$1 key=$2 a b
    a=$(field postern-load "$key")
    b=$(field radicale-load "$key")
    printf '%-34s %24s %24s %7s\n' "$label" "${a:-n/a}" "${b:-n/a}" "$(ratio "$a" "$b")"
}
one "load: PUT/s ($BENCH_LOAD_CLIENTS clients)" requests_per_s
one "load: p50 ms" p50
one "load: p99 ms" p99
one "load: errors" errors
row "query: REPORT/s ($BENCH_CLIENTS clients)" query requests_per_s
row "query: p50 ms" query p50
row "query: p99 ms" query p99
row "query: bytes per answer" query bytes_per_request
row "query: server CPU ms per REPORT" query server_cpu_ms_per_op
row "put: PUT/s ($BENCH_PUT_CLIENTS clients)" put requests_per_s
row "put: p50 ms" put p50
row "put: p99 ms" put p99
row "put: server CPU ms per PUT" put server_cpu_ms_per_op
one "RSS KiB fresh (before the load)" rss_kb_before
printf '%-34s %24s %24s\n' "RSS KiB after the last run" \
    "$(field "postern-put-$BENCH_ROUNDS" rss_kb_after)" "$(field "radicale-put-$BENCH_ROUNDS" rss_kb_after)"

# The query's answers must be the same on both sides, or the rates do not
# compare: objects, VEVENTs (instances if expanded) and the expected ones.
echo
printf '%-34s %12s %12s %12s\n' "query answer (round 1)" expected postern radicale
for pair in objects:returned_objects:objects instances:returned_vevents:"VEVENTs (instances if expanded)"; do
    IFS=: read -r exp_key key label <<<"$pair"
    printf '%-34s %12s %12s %12s\n' "$label" "$(field postern-query-1 "expected_$exp_key")" \
        "$(field postern-query-1 "$key")" "$(field radicale-query-1 "$key")"
done
printf '%-34s %12s %12s %12s\n' "server_expanded" "-" \
    "$(field postern-query-1 server_expanded)" "$(field radicale-query-1 server_expanded)"
printf '%-34s %12s %12s %12s\n' "answer_form" "-" \
    "$(field postern-query-1 answer_form)" "$(field radicale-query-1 answer_form)"
errors=0
for f in "$RESULTS"/*-query-*.json "$RESULTS"/*-put-*.json "$RESULTS"/*-load.json; do
    n=$(grep -oE '"errors":[0-9]+' "$f" | cut -d: -f2 || true)
    errors=$((errors + ${n:-1}))
done
if [ -n "${RADICALE_PID:-}" ] && [ "$(field postern-query-1 returned_vevents)" != "$(field radicale-query-1 returned_vevents)" ]; then
    # An expanding server answers one VEVENT per instance, a server that
    # ignores <C:expand> one per object: the work per answer differs.
    echo "WARNING: the two servers returned different numbers of VEVENTs (postern: $(field postern-query-1 answer_form), radicale: $(field radicale-query-1 answer_form)): the query rates are not for the same work"
fi
[ "$errors" = 0 ] || echo "WARNING: $errors errors in the runs (see the JSON above)"
echo "load average: before $(cat "$RESULTS/loadavg-before.txt"), after $(cat "$RESULTS/loadavg-after.txt")"
echo "other CPU s per run (work not the server's or the client's):$(for f in "$RESULTS"/*-query-*.json "$RESULTS"/*-put-*.json; do printf ' %s=%s' "$(basename "$f" .json)" "$(grep -oE '"other_cpu_s":[0-9.]+' "$f" | cut -d: -f2)"; done)"
