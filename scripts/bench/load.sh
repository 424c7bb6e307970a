#!/usr/bin/env bash
# Load benchmark of `evni serve` (SQLite, durability "full"; or PostgreSQL
# with DATABASE_URL, one or more API processes) with wrk on 127.0.0.1. Not a test: it measures, prints figures and only fails when the
# server answered something other than 200 or lost an acknowledged write.
#
# Phases, all against one fresh server and data dir:
#   1. seed SESSIONS live sessions with HISTORY_MINUTES of 1-minute readings
#      (energy register kWh, power kW, SoC %) through the API;
#   2. PATCH_RUNS runs of the hot path: PATCH one next-minute reading (energy,
#      power and SoC at one timestamp, like the seeded history)
#      into a live session, which the server re-analyses over its 6 h window
#      and commits before answering 200 (scripts/bench/patch.lua);
#   3. optionally (PROFILE=seconds) perf record of the server under the same
#      PATCH load;
#   4. a check that every PATCH answered 200 is in the database, minute by
#      minute for every session (not a total);
#   5. POST of new 6 h sessions, 360 readings x 3 measurands each
#      (scripts/bench/post.lua);
# then a summary with req/s, p50, p99, non-200 count, the server's CPU share
# and its peak memory (VmHWM).
#
# Run from anywhere in the repository:  scripts/bench/load.sh
# Settings (environment):
#   SESSIONS=1000 CONNECTIONS=32 DURATION=30 PATCH_RUNS=2
#   POST_DURATION=15 HISTORY_MINUTES=300 VERIFY=1 PROFILE=0 TIMEOUT=10
#   THREADS=API_PROCESSES  wrk threads (its -t). One by default: it drives
#                  32 connections with a fifth of a core, and a second thread
#                  on a 2-core machine takes more of the cores the server needs
#                  (measured: 2-5 % fewer PATCHes/s with 2)
#   EVNI_BIN=path  benchmark this binary instead of building target/release/evni
#   EVNI_DURABILITY=normal  SQLite without waiting for the fsync (passed to the
#                  server like every EVNI_ setting; the summary names it)
#   DATABASE_URL=postgres://...  run on PostgreSQL (a fresh schema there, dropped
#                  at the end; needs psql) instead of SQLite; e.g.
#                  DATABASE_URL=$(scripts/postgres.sh | tail -n 1)
#   API_PROCESSES=1  API processes on one database (more than 1 needs
#                  DATABASE_URL); wrk thread i sends to process i mod N, so
#                  THREADS must be a multiple of API_PROCESSES
# The goal the PATCH figures are held against: >= 15,000 req/s with
# p99 < 10 ms at 32 connections on a 2-core machine, wrk included.
set -euo pipefail

SESSIONS=${SESSIONS:-1000}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-30}
PATCH_RUNS=${PATCH_RUNS:-2}
POST_DURATION=${POST_DURATION:-15}
HISTORY_MINUTES=${HISTORY_MINUTES:-300}
VERIFY=${VERIFY:-1}
PROFILE=${PROFILE:-0}
TIMEOUT=${TIMEOUT:-10}
DATABASE_URL=${DATABASE_URL:-}
API_PROCESSES=${API_PROCESSES:-1}
THREADS=${THREADS:-$API_PROCESSES}
GOAL_RPS=15000
GOAL_P99_MS=10

for name in SESSIONS CONNECTIONS THREADS DURATION PATCH_RUNS POST_DURATION HISTORY_MINUTES VERIFY PROFILE TIMEOUT API_PROCESSES; do
  [[ ${!name} =~ ^[0-9]+$ ]] || { echo "$name must be a whole number, not '${!name}'" >&2; exit 2; }
done
# Bounded by design: a forgotten DURATION=100000 should not run for a day.
for name in DURATION POST_DURATION PROFILE; do
  (( ${!name} <= 600 )) || { echo "$name is at most 600 seconds" >&2; exit 2; }
done
(( THREADS >= 1 && CONNECTIONS >= THREADS && SESSIONS >= THREADS )) || {
  echo "need THREADS >= 1, CONNECTIONS >= THREADS and SESSIONS >= THREADS" >&2; exit 2; }
(( API_PROCESSES >= 1 && THREADS % API_PROCESSES == 0 )) || {
  echo "THREADS must be a multiple of API_PROCESSES" >&2; exit 2; }
if (( API_PROCESSES > 1 )) && [[ -z $DATABASE_URL ]]; then
  echo "API_PROCESSES > 1 needs DATABASE_URL (processes share one PostgreSQL database)" >&2; exit 2
fi
if [[ -n $DATABASE_URL ]] && ! command -v psql >/dev/null; then
  echo "DATABASE_URL needs psql (scripts/postgres.sh installs it)" >&2; exit 2
fi
if (( SESSIONS < 4 * CONNECTIONS )); then
  echo "note: with SESSIONS < 4 x CONNECTIONS one session may have two PATCHes in flight;" \
    "readings then can arrive out of order (still valid, but not the 1-minute stream modelled)." >&2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH=scripts/bench

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Debian package; the package lists are refreshed only if the install fails,
# since an update is slow and usually unnecessary.
install_package() {
  local package=$1
  echo "installing $package ..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  }
}
command -v wrk >/dev/null || install_package wrk
if (( PROFILE > 0 )) && ! command -v perf >/dev/null; then install_package linux-perf; fi
command -v python3 >/dev/null || { echo "python3 is needed to seed the sessions" >&2; exit 2; }

if [[ -n ${EVNI_BIN:-} ]]; then
  BUILT_FROM="$EVNI_BIN (EVNI_BIN, not rebuilt)"
else
  echo "building evni (release) ..."
  cargo build --release -p evni --quiet
  EVNI_BIN="${CARGO_TARGET_DIR:-target}/release/evni"
  BUILT_FROM="$EVNI_BIN, built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes')"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/evni-bench.XXXXXX")
# A private copy: a rebuild in the shared target dir must not swap the binary
# under a running benchmark.
cp "$EVNI_BIN" "$WORK/evni"
EVNI="$WORK/evni"
SERVER_LOG="$WORK/server.log"
PID=""      # the first API process (perf, memory)
PIDS=()     # every API process
SHUTDOWN="not stopped yet"
stop_server() {
  local began=$SECONDS status=0 pid alive=()
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  (( ${#alive[@]} )) || return 0
  kill -TERM "${alive[@]}"
  # Graceful shutdown finishes requests in flight; give it a bounded time.
  for pid in "${alive[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "!! server $pid ignored SIGTERM for 10 s; killing it" >&2
      kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null || status=$?
  done
  SHUTDOWN="SIGTERM -> exited with status $status after $(( SECONDS - began )) s"
  PIDS=()
}
PG_SCHEMA=""
cleanup() {
  stop_server
  if [[ -n $PG_SCHEMA ]]; then
    psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

server_alive() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && continue
    echo "!! a server exited; last lines of the log:" >&2
    tail -n 30 "$SERVER_LOG" | sed 's/\x1b\[[0-9;]*m//g' >&2
    exit 1
  done
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export EVNI_DATA_DIR="$WORK/data"
STORE="SQLite (durability ${EVNI_DURABILITY:-full})"
if [[ -n $DATABASE_URL ]]; then
  # A schema of its own, named in every connection's search_path.
  PG_SCHEMA="evni_bench_$$_$RANDOM"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
  separator='?'; [[ $DATABASE_URL == *\?* ]] && separator='&'
  export EVNI_DATABASE_URL="${DATABASE_URL}${separator}options=-csearch_path%3D${PG_SCHEMA}"
  # Every API process must accept the same tokens.
  EVNI_JWT_SECRET="bench-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  export EVNI_JWT_SECRET
  STORE="PostgreSQL $(psql -qAt "$DATABASE_URL" -c 'SHOW server_version' | cut -d' ' -f1) (synchronous_commit $(psql -qAt "$DATABASE_URL" -c 'SHOW synchronous_commit')), $API_PROCESSES API process(es), pool ${EVNI_DATABASE_POOL:-16} each"
fi
PORTS=()
for _ in $(seq "$API_PROCESSES"); do PORTS+=("$(free_port)"); done
PORT=${PORTS[0]}
URL="http://127.0.0.1:$PORT"
if (( API_PROCESSES > 1 )); then export EVNI_BENCH_PORTS="${PORTS[*]}"; fi
TOKEN=$(EVNI_LISTEN="127.0.0.1:$PORT" "$EVNI" tenant create bench 2>>"$SERVER_LOG" | tail -n 1) || {
  echo "!! 'evni tenant create' failed:" >&2; sed 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG" | awk 'NR <= 20' >&2; exit 1; }
for port in "${PORTS[@]}"; do
  EVNI_LISTEN="127.0.0.1:$port" "$EVNI" serve 2>>"$SERVER_LOG" &
  PIDS+=($!)
done
PID=${PIDS[0]}
python3 - "${PORTS[@]}" <<'EOF' || { server_alive; echo "a server did not answer /healthz within 30 s" >&2; exit 1; }
import sys, time, urllib.request
for port in sys.argv[1:]:
    for _ in range(300):
        try:
            urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(1)
EOF
echo "server pid(s) ${PIDS[*]} on port(s) ${PORTS[*]}, $STORE, data in $EVNI_DATA_DIR"

# Readings may not be more than 24 h in the future, and every PATCH moves its
# session one minute on. So the seeded history ends far enough in the past
# that even 50,000 req/s (more than 2 cores can do) stays behind the clock.
PATCH_SECONDS=$(( DURATION * PATCH_RUNS + (PROFILE > 0 ? PROFILE + 5 : 0) ))
BACKOFF_MINUTES=$(( PATCH_SECONDS * 50000 / SESSIONS + 60 ))
NOW=$(date +%s)
END_EPOCH=$(( NOW / 60 * 60 - BACKOFF_MINUTES * 60 ))

echo "seeding $SESSIONS sessions ..."
python3 "$BENCH/seed.py" seed --port "$PORT" --token "$TOKEN" --sessions "$SESSIONS" \
  --history-minutes "$HISTORY_MINUTES" --end-epoch "$END_EPOCH" --state-out "$WORK/state-0.tsv"
server_alive

CLK_TCK=$(getconf CLK_TCK)
# Every API process together.
server_cpu_ticks() { local pid t=0; for pid in "${PIDS[@]}"; do t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat") )); done; echo "$t"; }
# The database server's processes (PostgreSQL runs out of process).
db_cpu_ticks() {
  [[ -n $DATABASE_URL ]] || { echo 0; return; }
  awk '$2 ~ /^\(postgres/ { t += $14 + $15 } END { print t + 0 }' /proc/[0-9]*/stat 2>/dev/null
}
vm_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$PID/status"; }
us_to_ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

FAILED=0
# run_wrk LABEL SCRIPT SECONDS ARGS...: one wrk run; sets R_* from its RESULT line.
run_wrk() {
  local label=$1 script=$2 seconds=$3
  shift 3
  local out="$WORK/$label.txt" before after wrk_cpu
  before=$(server_cpu_ticks)
  db_before=$(db_cpu_ticks)
  # bash's `time` gives wrk's own CPU: on 2 shared cores the load generator
  # competes with the server, and its share explains part of the figures.
  { TIMEFORMAT='%U %S'; time wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" --timeout "${TIMEOUT}s" \
      --latency -H "Authorization: Bearer $TOKEN" -s "$script" "$URL" -- "$@" >"$out" 2>&1; } 2>"$out.time"
  after=$(server_cpu_ticks)
  db_after=$(db_cpu_ticks)
  echo "---- wrk: $label ----"
  grep -v '^RESULT' "$out"
  local line errors
  line=$(grep '^RESULT ' "$out") || { echo "!! wrk printed no result" >&2; FAILED=1; return 1; }
  errors=$(grep '^RESULT_ERRORS ' "$out")
  field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
  R_RPS=$(field "$line" rps)
  R_REQUESTS=$(field "$line" requests)
  R_SENT=$(field "$line" sent)
  R_P50=$(us_to_ms "$(field "$line" p50_us)")
  R_P99=$(us_to_ms "$(field "$line" p99_us)")
  R_NON200=$(field "$line" non200)
  R_SOCKET_ERRORS=$(( $(field "$errors" connect) + $(field "$errors" read) + $(field "$errors" write) + $(field "$errors" timeout) ))
  R_CODES=$(field "$errors" codes)
  R_SERVER_CPU=$(awk -v t=$(( after - before )) -v hz="$CLK_TCK" -v s="$seconds" 'BEGIN { printf "%.0f", 100 * t / hz / s }')
  R_DB_CPU=$(awk -v t=$(( db_after - db_before )) -v hz="$CLK_TCK" -v s="$seconds" 'BEGIN { printf "%.0f", 100 * t / hz / s }')
  R_CPU="server CPU ${R_SERVER_CPU}%"
  [[ -n $DATABASE_URL ]] && R_CPU="$R_CPU, postgres CPU ${R_DB_CPU}%"
  R_WRK_CPU=$(awk -v s="$seconds" '{ printf "%.0f", 100 * ($1 + $2) / s }' "$out.time")
  if (( R_NON200 > 0 || R_SOCKET_ERRORS > 0 )); then
    FAILED=1
    echo "!! $label: $R_NON200 non-200 responses (${R_CODES:-none}), $R_SOCKET_ERRORS socket errors/timeouts"
    grep '^RESULT_FIRST_ERROR ' "$out" | sed 's/^RESULT_FIRST_ERROR /!! first error: /' || true
  fi
  server_alive
}

# Other work on the machine skews every figure; the summary shows how busy it was.
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
PATCH_LINES=()
ACKED=0
SENT=0
STATE="$WORK/state-0.tsv"
for run in $(seq "$PATCH_RUNS"); do
  run_wrk "patch-$run" "$BENCH/patch.lua" "$DURATION" "$STATE" "$WORK/state-$run.tsv" "$THREADS"
  STATE="$WORK/state-$run.tsv"
  ACKED=$(( ACKED + R_REQUESTS - R_NON200 ))
  SENT=$(( SENT + R_SENT ))
  verdict="goal NOT met"
  awk -v r="$R_RPS" -v p="$R_P99" -v gr="$GOAL_RPS" -v gp="$GOAL_P99_MS" 'BEGIN { exit !(r >= gr && p < gp) }' && verdict="goal met"
  PATCH_LINES+=("$(printf '  run %d: %9.0f req/s   p50 %6s ms   p99 %7s ms   non-200 %s   %s, wrk CPU %s%%   (%s)' \
    "$run" "$R_RPS" "$R_P50" "$R_P99" "$R_NON200" "$R_CPU" "$R_WRK_CPU" "$verdict")")
done
HWM_PATCH=$(vm_kib VmHWM)

PROFILE_FILE=""
if (( PROFILE > 0 )); then
  # wrk runs a little longer than perf so the sample covers steady load only.
  run=$(( PATCH_RUNS + 1 ))
  run_wrk "patch-profiled" "$BENCH/patch.lua" $(( PROFILE + 5 )) "$STATE" "$WORK/state-$run.tsv" "$THREADS" &
  wrk_job=$!
  sleep 2
  # DWARF unwinding: release builds keep no frame pointers, so -g alone would
  # give broken call chains and meaningless inclusive (children) figures.
  perf record -q -F 499 --call-graph dwarf,16384 -p "$PID" -o "$WORK/perf.data" -- sleep "$PROFILE" >/dev/null 2>&1 ||
    echo "!! perf record failed (perf_event_paranoid or a VM without PMU access?)"
  wait "$wrk_job" || true
  STATE="$WORK/state-$run.tsv"
  # A profiled run's figures are not comparable and are left out; its writes
  # still count for the durability check. R_* were set in the subshell, so
  # read them back from wrk's result line.
  line=$(grep '^RESULT ' "$WORK/patch-profiled.txt")
  if [[ $(sed -n 's/.* non200=\([0-9]*\).*/\1/p' <<<"$line") != 0 ]]; then FAILED=1; fi
  ACKED=$(( ACKED + $(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line") - $(sed -n 's/.* non200=\([0-9]*\).*/\1/p' <<<"$line") ))
  SENT=$(( SENT + $(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$line") ))
  if [[ -s $WORK/perf.data ]]; then
    # Kept outside the work dir (which is removed) for a closer look later.
    PROFILE_FILE="${TMPDIR:-/tmp}/evni-bench-profile.txt"
    mv "$WORK/perf.data" "${TMPDIR:-/tmp}/evni-bench-perf.data"
    perf report -i "${TMPDIR:-/tmp}/evni-bench-perf.data" --no-children --stdio --sort dso,symbol --percent-limit 0.5 -g none \
      >"$PROFILE_FILE" 2>/dev/null
    {
      echo; echo "==== inclusive (children) ===="
      perf report -i "${TMPDIR:-/tmp}/evni-bench-perf.data" --children --stdio --sort symbol --percent-limit 2 -g none 2>/dev/null
    } >>"$PROFILE_FILE"
    echo "---- perf: top self time in the server ----"
    # awk, not head: under pipefail an early-closed pipe would fail the script.
    awk '/^ +[0-9.]+%/ && n++ < 25 { sub(/ +- +- *$/, ""); print }' "$PROFILE_FILE"
    echo "(full report: $PROFILE_FILE; samples: ${TMPDIR:-/tmp}/evni-bench-perf.data)"
  fi
fi

DURABILITY="skipped"
if (( VERIFY )); then
  if python3 "$BENCH/seed.py" verify --port "$PORT" --token "$TOKEN" --state "$STATE" \
      --history-minutes "$HISTORY_MINUTES" --acked "$ACKED" --sent "$SENT"; then
    DURABILITY="OK ($ACKED acknowledged PATCHes all stored)"
  else
    DURABILITY="MISMATCH (see above)"
    FAILED=1
  fi
fi

python3 "$BENCH/seed.py" post-templates --out-dir "$WORK" --variants 8 --minutes 360 --end-epoch $(( NOW / 60 * 60 - 3600 ))
run_wrk "post" "$BENCH/post.lua" "$POST_DURATION" "$WORK" 8 "$NOW"
POST_LINE=$(printf '  %9.0f req/s   p50 %6s ms   p99 %7s ms   non-200 %s   %s, wrk CPU %s%%' \
  "$R_RPS" "$R_P50" "$R_P99" "$R_NON200" "$R_CPU" "$R_WRK_CPU")

HWM_END=$(vm_kib VmHWM)
RSS_END=$(vm_kib VmRSS)
stop_server
# The server colours its log even into a file; strip that before matching.
sed 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG" >"$WORK/server.plain.log"
LOG_PROBLEMS=$(grep -cE ' (WARN|ERROR) ' "$WORK/server.plain.log" || true)

cat <<EOF

==================== evni load benchmark ====================
machine        nproc=$(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
               load average before PATCH $LOADAVG_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)
server         evni serve, $STORE, 127.0.0.1; binary $BUILT_FROM
load           wrk, $THREADS threads, $CONNECTIONS connections, timeout ${TIMEOUT}s
PATCH /v1/sessions/{id}: 1 reading (3 measurands) into a live session, re-analysed; ${DURATION}s per run
               $SESSIONS sessions, ${HISTORY_MINUTES} min history at 1-minute sampling (3 measurands)
$(printf '%s\n' "${PATCH_LINES[@]}")
               goal: >= $GOAL_RPS req/s with p99 < $GOAL_P99_MS ms
durability     $DURABILITY
POST /v1/sessions: new 6 h session, 360 readings x 3 measurands; ${POST_DURATION}s
$POST_LINE
server memory  peak (VmHWM) $(( HWM_PATCH / 1024 )) MiB after PATCH, $(( HWM_END / 1024 )) MiB at the end (RSS then $(( RSS_END / 1024 )) MiB)
server log     $LOG_PROBLEMS WARN/ERROR lines; shutdown: $SHUTDOWN
EOF
[[ -n $PROFILE_FILE ]] && echo "profile        $PROFILE_FILE"
if (( LOG_PROBLEMS > 0 )); then
  echo "---- server WARN/ERROR lines (first 10) ----"
  awk '/ (WARN|ERROR) / && n++ < 10' "$WORK/server.plain.log"
fi
if (( FAILED )); then
  echo "RESULT: the server answered non-200 / failed a check during the benchmark (see '!!' lines above)"
  exit 1
fi
echo "RESULT: every request answered 200"
