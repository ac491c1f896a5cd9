#!/usr/bin/env bash
# The SMTP benchmark: Postern against Postfix + Dovecot, side by side on
# loopback.
#
# Builds Postern and the load generator in release mode, makes a throw-away
# CA and a certificate for localhost, and sets up a private Postern and a
# private Postfix + Dovecot (no system service: everything lives in a
# temporary directory) with the same accounts, password and certificate.
# Postfix takes submissions on an implicit-TLS port (SASL through Dovecot's
# auth service) and mail on an MX port with STARTTLS, and delivers to
# Dovecot's LMTP, which writes maildirs; both fsync as shipped. The same
# scenarios run against each (smtp-submit, smtp-mx, smtp-submit-connect, at
# every client count), and after each run the messages stored are counted
# and compared with the messages acknowledged: Postern's through POP3 STAT,
# Postfix's as maildir files once its queue is empty. Prints the JSON
# results and the ratios Postern / Postfix+Dovecot.
#
# Every load run is bounded (BENCH_SECONDS and BENCH_MAX_OPS per run) and
# aims at 127.0.0.1 only. Everything started here is stopped on exit: by
# PID, and Postfix with `postfix -c DIR stop`.
#
# Settings (environment):
#   BENCH_SECONDS    seconds per run                       (default 10)
#   BENCH_CLIENTS    client counts, space-separated        (default "1 8 32")
#   BENCH_SCENARIOS  which scenarios (default "smtp-submit smtp-mx smtp-submit-connect")
#   BENCH_MAX_OPS    at most this many messages per run    (default 200000)
#   BENCH_SIZE       octets per message                    (default 4096)
#   BENCH_PIPELINING=0  MAIL/RCPT/DATA one at a time (default 1: in one write)
#   SKIP_POSTERN=1   measure Postfix + Dovecot only (Postern is still set up:
#                    its password hashes are used by Dovecot)
#   SKIP_POSTFIX=1   measure Postern only
#   KEEP_TMP=1       keep the temporary directory (logs, configs, results)
#   BENCH_NICE=-10   run the servers and the load generator at this nice
#                    level, so that other work on a shared machine disturbs
#                    the figures less; both sides alike
#   BENCH_BUILD=0    use the binaries already in target/release (no cargo)
#   BENCH_PERF=1     record `perf stat` of Postern during each run (if perf
#                    is installed)
#   BENCH_STORE_URL=postgres://USER:PASSWORD@127.0.0.1/DB  run Postern on this
#                    (empty) PostgreSQL database instead of its SQLite store
# Needs root (apt-get install, Postfix and Dovecot drop privileges).
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"smtp-submit smtp-mx smtp-submit-connect"}
BENCH_MAX_OPS=${BENCH_MAX_OPS:-200000}
BENCH_SIZE=${BENCH_SIZE:-4096}
BENCH_PIPELINING=${BENCH_PIPELINING:-1}
SKIP_POSTERN=${SKIP_POSTERN:-0}
SKIP_POSTFIX=${SKIP_POSTFIX:-0}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_PERF=${BENCH_PERF:-0}
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi
# One account per client, as many as the largest client count.
ACCOUNTS=0
for c in $BENCH_CLIENTS; do
    [ "$c" -gt "$ACCOUNTS" ] && ACCOUNTS=$c
done
# Passed to the load generator through its environment, never on a command
# line (visible in ps). At least 10 characters: Postern's minimum.
export POSTERN_BENCH_PASSWORD='bench password 5321'
# How long a queue may take to drain after a run before it counts as stuck.
DRAIN_LIMIT=600

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/postern-smtp-bench.XXXXXX)
RESULTS=$TMP/results
mkdir -p "$RESULTS"
PIDS=()
POSTFIX_DIR=""

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-smtp.sh: %s\n' "$*" >&2; exit 1; }

# Stops what this script started: Postfix through its own command (its
# master then stops its children), then every recorded PID with TERM, up to
# 15 s for a graceful exit, then KILL.
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

[ "$(id -u)" = 0 ] || [ "$SKIP_POSTFIX" = 1 ] || die "run as root (Postfix and Dovecot), or SKIP_POSTFIX=1"

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

# Waits (at most 30 s) until process $1 is alive and something listens on
# port $2.
wait_listening() {
    local i
    for i in $(seq 300); do
        kill -0 "$1" 2>/dev/null || return 1
        port_in_use "$2" && return 0
        sleep 0.1
    done
    return 1
}

# One numeric field of a JSON result (flat "key":number pairs; the first).
jfield() { grep -oE "\"$2\":-?[0-9.]+" "$1" | head -1 | cut -d: -f2 || true; }
field() { jfield "$RESULTS/$1.json" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---- build, certificate -------------------------------------------------------

if [ "${BENCH_BUILD:-1}" = 1 ]; then
    log "building postern and postern-bench (release)"
    (cd "$ROOT" && cargo build --release --locked -p postern -p postern-bench) >&2
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
POSTERN=$TARGET_DIR/release/postern
BENCH=$TARGET_DIR/release/postern-bench

# A throw-away CA and a certificate for localhost signed by it, ECDSA P-256
# as Postern makes by default; both servers present the same certificate,
# the load generator trusts only the CA.
C=$TMP/certs
mkdir -p "$C"
log "making a throw-away CA and a certificate for localhost"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj "/CN=Postern benchmark throw-away CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$C/server.key" -out "$C/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$C/server.ext"
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 365 -extfile "$C/server.ext" -out "$C/server.pem" 2>/dev/null
cat "$C/server.pem" "$C/ca.pem" >"$C/chain.pem"
chmod 644 "$C"/*.pem
chmod 640 "$C"/*.key

# ---- Postern: set-up -----------------------------------------------------------

P=$TMP/postern
log "Postern: init in $P"
STORE_ARGS=()
if [ -n "${BENCH_STORE_URL:-}" ]; then STORE_ARGS=(--store "$BENCH_STORE_URL"); fi
"$POSTERN" init --dev-ports --hostname localhost --domain example.test --data-dir "$P" \
    "${STORE_ARGS[@]}" >/dev/null
# Keep each dev port when free, else move the listener to a free port.
declare -A PORT_OF=()
mapfile -t ports < <(grep -oE '"127\.0\.0\.1:[0-9]+"' "$P/postern.toml" | grep -oE '[0-9]+')
for port in "${ports[@]}"; do
    new=$port
    if port_in_use "$port"; then
        free_port
        new=$FREE_PORT
        sed -i "s/\"127\.0\.0\.1:$port\"/\"127.0.0.1:$new\"/" "$P/postern.toml"
    fi
    PORT_OF[$port]=$new
done
P_SMTP=${PORT_OF[2525]:-}
P_SUBS=${PORT_OF[2465]:-}
P_POP3S=${PORT_OF[2995]:-}
[ -n "$P_SMTP" ] && [ -n "$P_SUBS" ] && [ -n "$P_POP3S" ] ||
    die "postern init --dev-ports no longer binds 2525, 2465 and 2995: update this script"
# Every client connects from 127.0.0.1: the per-address limit (20 by
# default, against one host hogging a listener) would refuse the 21st.
sed -i -E 's/^max_connections_per_ip = [0-9]+/max_connections_per_ip = 200/' "$P/postern.toml"
# The private Postfix checks no SPF/DKIM/DMARC; nor does Postern here (the
# test domain's DNS lookups would only time out, 2 s each).
sed -i -E 's/^verify = true/verify = false/' "$P/postern.toml"
"$POSTERN" cert import "$C/chain.pem" --key "$C/server.key" --ca-bundle "$C/ca.pem" \
    --data-dir "$P" >"$TMP/postern-cert.txt" 2>&1 ||
    { cat "$TMP/postern-cert.txt" >&2; die "postern cert import failed"; }
"$POSTERN" check --data-dir "$P" >"$TMP/postern-check.txt" 2>&1 || [ $? = 3 ] ||
    { cat "$TMP/postern-check.txt" >&2; die "postern check failed"; }

log "Postern: $ACCOUNTS accounts"
for i in $(seq 0 $((ACCOUNTS - 1))); do
    printf '%s\n' "$POSTERN_BENCH_PASSWORD" |
        "$POSTERN" user add "bench$i@example.test" --password-stdin --data-dir "$P" >/dev/null
done
# The accounts' password hash, as stored: every AUTH pays it.
if [ -n "${BENCH_STORE_URL:-}" ]; then
    POSTERN_HASH=$(psql "$BENCH_STORE_URL" -qAtc \
        "SELECT password_hash FROM accounts WHERE address = 'bench0@example.test'")
else
    POSTERN_HASH=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT password_hash FROM accounts WHERE address = ?", (sys.argv[2],)).fetchone()[0])' \
        "$P/mail.db" bench0@example.test)
fi
HASH_PARAMS=$(printf '%s' "$POSTERN_HASH" | cut -d'$' -f2-4)
log "password hash of every account: $HASH_PARAMS"

# ---- the runs -----------------------------------------------------------------

# bench LABEL SCENARIO CLIENTS PORT -- extra args: one load run; the JSON goes
# to $RESULTS/LABEL-SCENARIO-cCLIENTS.json. A run with errors still records
# its figures (exit 2 of the generator).
bench() {
    local label=$1 scenario=$2 clients=$3 port=$4 rc=0 pipelining=()
    shift 4
    [ "$BENCH_PIPELINING" = 1 ] && pipelining=(--pipelining)
    local out=$RESULTS/$label-$scenario-c$clients.json
    log "$label: $scenario, $clients clients, ${BENCH_SECONDS}s"
    "${NICE[@]}" "$BENCH" --scenario "$scenario" --label "$label" \
        --connect "127.0.0.1:$port" --ca "$C/ca.pem" --sni localhost \
        --seconds "$BENCH_SECONDS" --clients "$clients" --max-ops "$BENCH_MAX_OPS" \
        --message-size "$BENCH_SIZE" "${pipelining[@]}" \
        --user-pattern 'bench{n}@example.test' --rcpt-pattern 'bench{n}@example.test' \
        "$@" >"$out" || rc=$?
    cat "$out"
    [ "$rc" = 0 ] || log "WARNING: $label $scenario c$clients exited $rc (errors in the run, see above)"
}

# verify LABEL SCENARIO CLIENTS BEFORE AFTER: compares what the run
# acknowledged with what the store gained, and records it in the JSON
# directory. A message whose answer was lost (unacknowledged) may be stored
# or not: stored must lie in [accepted, accepted + unacknowledged].
verify() {
    local label=$1 scenario=$2 clients=$3 before=$4 after=$5 f acc un stored verdict
    f=$RESULTS/$label-$scenario-c$clients.json
    acc=$(jfield "$f" accepted)
    un=$(jfield "$f" unacknowledged)
    stored=$((after - before))
    if [ "$stored" -ge "$acc" ] && [ "$stored" -le $((acc + un)) ]; then verdict=OK; else verdict=MISMATCH; fi
    [ "$acc" = 0 ] && verdict="$verdict (nothing accepted)"
    echo "$label $scenario c$clients: accepted=$acc unacknowledged=$un stored=$stored $verdict" |
        tee -a "$RESULTS/verify.txt"
}

run_all() {
    local label=$1 sub_port=$2 mx_port=$3 count_fn=$4 scenario clients port before after
    shift 4
    for scenario in $BENCH_SCENARIOS; do
        for clients in $BENCH_CLIENTS; do
            case $scenario in smtp-mx) port=$mx_port ;; *) port=$sub_port ;; esac
            before=$($count_fn before)
            bench "$label" "$scenario" "$clients" "$port" "$@"
            after=$($count_fn "$scenario-c$clients")
            verify "$label" "$scenario" "$clients" "$before" "$after"
        done
    done
}

cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/loadavg-start.txt"

# ---- Postern: runs --------------------------------------------------------------

# The messages Postern holds, summed over the accounts, read through POP3.
postern_count() {
    "$BENCH" --scenario pop3-count --label postern --connect "127.0.0.1:$P_POP3S" \
        --ca "$C/ca.pem" --sni localhost --clients "$ACCOUNTS" \
        --user-pattern 'bench{n}@example.test' >"$TMP/count.json" ||
        { cat "$TMP/count.json" >&2; die "counting Postern's messages failed"; }
    jfield "$TMP/count.json" messages
}

run_postern() {
    log "Postern: serve (submissions 127.0.0.1:$P_SUBS, smtp 127.0.0.1:$P_SMTP)"
    "${NICE[@]}" "$POSTERN" serve --data-dir "$P" >"$TMP/postern.log" 2>&1 &
    POSTERN_PID=$!
    PIDS+=("$POSTERN_PID")
    wait_listening "$POSTERN_PID" "$P_SUBS" && wait_listening "$POSTERN_PID" "$P_SMTP" &&
        wait_listening "$POSTERN_PID" "$P_POP3S" ||
        { tail -20 "$TMP/postern.log" >&2; die "postern did not start"; }
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/postern-loadavg.txt"
    if [ "$BENCH_PERF" = 1 ] && command -v perf >/dev/null; then
        # Counters for the whole series of runs, to see where the time goes.
        perf stat -e task-clock,context-switches,cpu-migrations,page-faults \
            -p "$POSTERN_PID" -o "$RESULTS/postern-perf-stat.txt" &
        PERF_PID=$!
        PIDS+=("$PERF_PID")
    fi
    run_all postern "$P_SUBS" "$P_SMTP" postern_count --server-pid "$POSTERN_PID"
    if [ -n "${PERF_PID:-}" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
    fi
    kill -TERM "$POSTERN_PID"
    wait "$POSTERN_PID" 2>/dev/null || true
    grep -E ' (ERROR|WARN) ' "$TMP/postern.log" | head -5 >&2 || true
}

if [ "$SKIP_POSTERN" != 1 ]; then
    run_postern
fi

# ---- Postfix + Dovecot ------------------------------------------------------------

install_packages() {
    local missing=() p
    for p in postfix dovecot-core dovecot-lmtpd; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    log "installing ${missing[*]}"
    # No system configuration: the instance below is private. (Debian's
    # policy-rc.d, where present, also keeps the services from starting.)
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    # A system Postfix started by the package would hold port 25.
    if port_in_use 25; then
        log "WARNING: something listens on 127.0.0.1:25 after the install (a system MTA?)"
    fi
}

# Dovecot 2.3 for LMTP delivery into maildirs and SASL for Postfix; the
# same password hashes as Postern's accounts (argon2id with Postern's
# parameters: libsodium verifies any argon2id PHC string), so that AUTH costs
# both servers the same.
setup_dovecot() {
    DOVECOT_VERSION=$(dovecot --version | cut -d' ' -f1)
    case $DOVECOT_VERSION in
        2.3.*) ;;
        *) die "Dovecot $DOVECOT_VERSION: only a 2.3 configuration is written" ;;
    esac
    D=$TMP/dovecot
    mkdir -p "$D/mail" "$D/home" "$D/state"
    # The mail processes run as nobody; Postfix's lmtp client as postfix:
    # both must reach their paths under $TMP.
    chmod 711 "$TMP" "$D"
    : >"$D/users"
    for i in $(seq 0 $((ACCOUNTS - 1))); do
        echo "bench$i@example.test:{ARGON2ID}$POSTERN_HASH::::::" >>"$D/users"
    done
    chmod 644 "$D/users"
    chown nobody:nogroup "$D/mail" "$D/home"
    cat >"$D/dovecot.conf" <<EOF
# A private Dovecot $DOVECOT_VERSION for the benchmark (written by bench/run-smtp.sh).
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
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
    doveconf -c "$D/dovecot.conf" -n >"$D/doveconf-n.txt" 2>&1 ||
        { cat "$D/doveconf-n.txt" >&2; die "doveconf rejects the configuration"; }
}

# Postfix 3.x as a private instance: config and queue under $TMP/postfix,
# the listeners on free loopback ports, delivery to Dovecot's LMTP socket.
# Every setting not written here is Postfix's default (fsync of the queue
# file before 250 included). Differences from Debian's master.cf: no chroot
# (the sockets live under $TMP), and the two listeners below.
setup_postfix() {
    # The configuration apart from the queue: `postfix check` wants every
    # file below the configuration directory owned by root.
    X=$TMP/postfix/etc
    XQ=$TMP/postfix/queue
    POSTFIX_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo unknown)
    mkdir -p "$X" "$XQ"
    free_port
    X_SUBS=$FREE_PORT
    free_port
    X_SMTP=$FREE_PORT
    : >"$X/vmailbox"
    : >"$X/senders"
    for i in $(seq 0 $((ACCOUNTS - 1))); do
        echo "bench$i@example.test OK" >>"$X/vmailbox"
        # The account may send only as itself, as on Postern.
        echo "bench$i@example.test bench$i@example.test" >>"$X/senders"
    done
    cat >"$X/main.cf" <<EOF
# A private Postfix $POSTFIX_VERSION for the benchmark (written by bench/run-smtp.sh).
compatibility_level = 3.6
queue_directory = $XQ
data_directory = $TMP/postfix/data
mail_owner = postfix
setgid_group = postdrop
# No syslog here: Postfix's own log file (postlogd).
maillog_file = $TMP/postfix/maillog
maillog_file_prefixes = $TMP/postfix
myhostname = postfix-bench.localhost
mydomain = localhost
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$X/vmailbox
virtual_transport = lmtp:unix:$D/run/lmtp
smtpd_tls_chain_files = $C/server.key, $C/chain.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/run/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_sender_login_maps = texthash:$X/senders
smtpd_relay_restrictions = reject_unauth_destination
smtp_tls_security_level = none
EOF
    cat >"$X/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$X_SMTP inet n    -       n       -       -       smtpd
127.0.0.1:$X_SUBS inet n    -       n       -       -       smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sender_restrictions=reject_sender_login_mismatch
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
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
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    # Postfix reports to its log (stderr only on a terminal).
    postfix -c "$X" check || { tail "$TMP/postfix/maillog" >&2; die "postfix check failed"; }
}

# The messages in the maildirs (each message is one file in new/ or cur/).
maildir_count() {
    find "$D/mail" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | wc -l
}

# Waits until Postfix's queue is empty; prints the seconds it took.
drain() {
    local t0 i
    t0=$(date +%s.%N)
    for i in $(seq $((DRAIN_LIMIT * 10))); do
        if postqueue -c "$X" -p 2>/dev/null | grep -q '^Mail queue is empty'; then
            awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
            return 0
        fi
        sleep 0.1
    done
    die "Postfix's queue did not drain within ${DRAIN_LIMIT}s: $(postqueue -c "$X" -p | tail -1)"
}

# Counted after the queue drained: what Postfix accepted is then in the
# maildirs or lost. The time the queue took to drain after a run ($1) is
# recorded: Postfix answers 250 once the message is in its queue, and
# delivers to the maildirs after.
postfix_count() {
    local took
    took=$(drain)
    [ "$1" = before ] || echo "$1=${took}s" >>"$RESULTS/drain-seconds.txt"
    maildir_count
}

run_postfix() {
    install_packages
    setup_dovecot
    setup_postfix
    log "Dovecot $DOVECOT_VERSION: LMTP and auth (sockets in $D/run)"
    "${NICE[@]}" dovecot -F -c "$D/dovecot.conf" >>"$D/dovecot.log" 2>&1 &
    DOVECOT_PID=$!
    PIDS+=("$DOVECOT_PID")
    local i
    for i in $(seq 300); do
        [ -S "$D/run/lmtp" ] && [ -S "$D/run/auth-postfix" ] && break
        kill -0 "$DOVECOT_PID" 2>/dev/null || { tail "$D/dovecot.log" >&2; die "dovecot did not start"; }
        sleep 0.1
    done
    log "Postfix $POSTFIX_VERSION: submissions 127.0.0.1:$X_SUBS, smtp 127.0.0.1:$X_SMTP"
    POSTFIX_DIR=$X
    "${NICE[@]}" postfix -c "$X" start ||
        { tail -20 "$TMP/postfix/maillog" >&2; die "postfix did not start"; }
    POSTFIX_PID=$(tr -d ' ' <"$XQ/pid/master.pid")
    PIDS+=("$POSTFIX_PID")
    wait_listening "$POSTFIX_PID" "$X_SUBS" && wait_listening "$POSTFIX_PID" "$X_SMTP" ||
        { tail -20 "$TMP/postfix/maillog" >&2; die "postfix does not listen"; }
    cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/postfix-loadavg.txt"
    : >"$RESULTS/drain-seconds.txt"
    run_all postfix "$X_SUBS" "$X_SMTP" postfix_count \
        --server-pid "$POSTFIX_PID" --server-pid "$DOVECOT_PID"
    # Every Message-ID the load generator made is unique: one file each.
    local ids files
    ids=$(find "$D/mail" -type f \( -path '*/new/*' -o -path '*/cur/*' \) -exec grep -h -m1 '^Message-ID: <' {} + |
        sort -u | wc -l)
    files=$(maildir_count)
    echo "postfix: $files maildir files, $ids distinct Message-IDs" | tee -a "$RESULTS/verify.txt"
    postfix -c "$X" stop >/dev/null 2>&1 || true
    POSTFIX_DIR=""
    kill -TERM "$DOVECOT_PID" 2>/dev/null || true
    wait "$DOVECOT_PID" 2>/dev/null || true
    grep -iE 'warning|error|fatal|panic' "$TMP/postfix/maillog" "$D/dovecot.log" | head -5 >&2 || true
}

if [ "$SKIP_POSTFIX" != 1 ]; then
    run_postfix
fi

# ---- summary ------------------------------------------------------------------------

echo
echo "== summary (${BENCH_SECONDS}s per run, $BENCH_SIZE-octet messages, pipelining $BENCH_PIPELINING, $(nproc) cores, loopback, nice ${BENCH_NICE:-0})"
echo "password hash of every account (both sides): $HASH_PARAMS"
printf '%-22s %4s %10s %10s %7s %18s %18s %7s %7s\n' scenario c "postern" "postfix" ratio \
    "postern p50/p99" "postfix p50/p99" "p-err" "x-err"
lat() {
    local f=$RESULTS/$1.json
    [ -f "$f" ] || { echo "-"; return; }
    awk -v s="$(grep -oE '"latency_ms":\{[^}]*\}' "$f")" 'BEGIN {
        match(s, /"p50":[0-9.]+/); p50 = substr(s, RSTART + 6, RLENGTH - 6);
        match(s, /"p99":[0-9.]+/); p99 = substr(s, RSTART + 6, RLENGTH - 6);
        printf "%s/%s", p50, p99 }'
}
for scenario in $BENCH_SCENARIOS; do
    for clients in $BENCH_CLIENTS; do
        a=$(field "postern-$scenario-c$clients" messages_per_s 2>/dev/null)
        b=$(field "postfix-$scenario-c$clients" messages_per_s 2>/dev/null)
        printf '%-22s %4s %10s %10s %7s %18s %18s %7s %7s\n' "$scenario" "$clients" "${a:--}" "${b:--}" \
            "$(ratio "$a" "$b")" "$(lat "postern-$scenario-c$clients")" "$(lat "postfix-$scenario-c$clients")" \
            "$(field "postern-$scenario-c$clients" errors 2>/dev/null)" \
            "$(field "postfix-$scenario-c$clients" errors 2>/dev/null)"
    done
done
echo "(messages/s acknowledged with 250; latency in ms from the end of data to the 250)"
echo
echo "== accepted against stored"
cat "$RESULTS/verify.txt"
if [ -s "$RESULTS/drain-seconds.txt" ]; then
    echo "Postfix's queue drained (s after the end of each run): $(tr '\n' ' ' <"$RESULTS/drain-seconds.txt")"
fi
echo
echo "== other CPU (s) per run, neither server nor load generator (of $(($(nproc) * BENCH_SECONDS)) available)"
for f in "$RESULTS"/*-smtp-*.json; do
    [ -f "$f" ] || continue
    printf '%s=%s ' "$(basename "$f" .json)" "$(jfield "$f" other_cpu_s)"
done
echo
echo "load average: start $(cat "$RESULTS/loadavg-start.txt")"
[ -f "$RESULTS/postern-perf-stat.txt" ] && { echo; cat "$RESULTS/postern-perf-stat.txt"; }
if grep -q MISMATCH "$RESULTS/verify.txt"; then
    echo "accepted != stored in some run (see above)" >&2
    exit 2
fi
