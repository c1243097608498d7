#!/usr/bin/env bash
# The local stack behind `make run`: disk-backed Azurite (blob + table), the
# control-plane handler on 127.0.0.1:7071 (the port `func start` would use), and a
# ticker that posts the timer functions' invocations once a minute, as the Functions
# host does. With --storage-only (make storage): Azurite alone, for `func start`.
#
# Stopping: Ctrl-C, SIGINT/SIGTERM/SIGHUP to this script, or (with SPOOL_ALIVE_FILE)
# removing that file stops everything this script started, by PID, in an order that
# loses nothing acknowledged: the ticker and the handler first, then Azurite with
# SIGINT, which is the one signal on which its table service saves its database (it
# otherwise only autosaves every 5 s; SIGTERM kills it before that).
#
# Environment: SPOOL_BLOB_PORT (10000), SPOOL_TABLE_PORT (10002),
# FUNCTIONS_CUSTOMHANDLER_PORT (7071), SPOOL_DATA_DIR (.run/azurite), SPOOL_BIN_DIR
# (bin: where bin/handler is), SPOOL_AZURITE_BIN (node_modules/.bin),
# SPOOL_ALIVE_FILE (none; make run sets it, see the Makefile). Every other variable
# (SPOOL_SOFT_DELETED_LIFETIME, ...) reaches the handler unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

BLOB_PORT=${SPOOL_BLOB_PORT:-10000}
TABLE_PORT=${SPOOL_TABLE_PORT:-10002}
HANDLER_PORT=${FUNCTIONS_CUSTOMHANDLER_PORT:-7071}
DATA_DIR=${SPOOL_DATA_DIR:-.run/azurite}
BIN_DIR=${SPOOL_BIN_DIR:-bin}
AZURITE_BIN=${SPOOL_AZURITE_BIN:-node_modules/.bin}
ALIVE_FILE=${SPOOL_ALIVE_FILE:-}
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
STOP_GRACE_TENTHS=150 # 15 s for each process to stop before it is killed
STORAGE_ONLY=''
case ${1:-} in
  '') ;;
  --storage-only) STORAGE_ONLY=1 ;;
  *) echo "usage: $0 [--storage-only]" >&2; exit 2 ;;
esac

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ports=("$BLOB_PORT" "$TABLE_PORT")
[[ -n $STORAGE_ONLY ]] || ports+=("$HANDLER_PORT")
for port in "${ports[@]}"; do
  if listening "$port"; then
    echo "run: port $port on 127.0.0.1 is already in use (another 'make run'?)" >&2
    exit 1
  fi
done

# start_child runs "$@" in the background in its own process group, so a Ctrl-C
# (SIGINT to the terminal's process group) reaches this script alone and each child
# hears exactly one stop signal, from stop_stack. Azurite's blob service closes on
# every SIGINT and SIGTERM it gets, and a second close ends in a stack trace.
start_child() {
  set -m
  "$@" &
  set +m
}

ticker_pid='' handler_pid='' blob_pid='' table_pid='' stopped=''

# stop_and_wait sends signal $1 to each PID that follows (a negative PID names a
# process group) and waits for them, killing what is left after the grace period.
stop_and_wait() {
  local sig=$1 pid tenths
  shift
  for pid in "$@"; do kill -"$sig" -- "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for ((tenths = 0; tenths < STOP_GRACE_TENTHS; tenths++)); do
      kill -0 -- "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 -- "$pid" 2>/dev/null; then
      echo "run: process $pid did not stop within $((STOP_GRACE_TENTHS / 10)) s; killing it" >&2
      kill -KILL -- "$pid" 2>/dev/null || true
    fi
  done
  wait "${@#-}" 2>/dev/null || true
}

stop_stack() {
  trap '' INT TERM HUP # one orderly stop, however many signals arrive meanwhile
  [[ -z $stopped ]] || return 0
  stopped=1
  set +e
  [[ -n $ALIVE_FILE ]] && rm -f "$ALIVE_FILE"
  local first=() azurite=()
  [[ -n $ticker_pid ]] && first+=("-$ticker_pid") # the loop and its sleep or curl
  [[ -n $handler_pid ]] && first+=("$handler_pid")
  ((${#first[@]})) && stop_and_wait TERM "${first[@]}"
  [[ -n $table_pid ]] && azurite+=("$table_pid")
  [[ -n $blob_pid ]] && azurite+=("$blob_pid")
  ((${#azurite[@]})) && stop_and_wait INT "${azurite[@]}"
  echo "run: stopped" >&2
}
trap 'stop_stack; exit 0' INT TERM HUP
trap stop_stack EXIT

if [[ -n $ALIVE_FILE ]]; then
  rm -f "$ALIVE_FILE" # a fresh file, so make sees it changed
  echo $$ >"$ALIVE_FILE"
fi
mkdir -p "$DATA_DIR"
common=(--skipApiVersionCheck --disableTelemetry --silent --location "$DATA_DIR")
start_child "$AZURITE_BIN/azurite-blob" --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" "${common[@]}"
blob_pid=$!
start_child "$AZURITE_BIN/azurite-table" --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" "${common[@]}"
table_pid=$!

for port in "$BLOB_PORT" "$TABLE_PORT"; do
  for _ in $(seq 1 300); do
    listening "$port" && break
    sleep 0.1
  done
  listening "$port" || { echo "run: Azurite did not start listening on port $port" >&2; exit 1; }
done

export FUNCTIONS_CUSTOMHANDLER_PORT=$HANDLER_PORT
export SPOOL_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/$ACCOUNT;TableEndpoint=http://127.0.0.1:$TABLE_PORT/$ACCOUNT;"
echo "run: Azurite blob :$BLOB_PORT table :$TABLE_PORT (data in $DATA_DIR)" >&2
if [[ -n $STORAGE_ONLY ]]; then
  echo "run: storage only; in another shell: make stage && cd stage && func start" >&2
  main_pid=$table_pid
else
  start_child "$BIN_DIR/handler"
  handler_pid=$!
  main_pid=$handler_pid
  path_hint=$BIN_DIR
  [[ $BIN_DIR == /* ]] || path_hint="\$PWD/$BIN_DIR"
  echo "run: API at http://127.0.0.1:$HANDLER_PORT/api; in another shell: export PATH=\"$path_hint:\$PATH\"; spool buffer create" >&2
fi

# The timer functions: every functions/*/function.json with a timerTrigger. All of
# spool's timers fire at second 0 of every minute ("0 */1 * * * *").
timers=()
for f in functions/*/function.json; do
  grep -q '"timerTrigger"' "$f" && timers+=("$(basename "$(dirname "$f")")")
done

# tick posts one timer invocation the way the host does: POST /<function name> (no
# /api prefix) with the invocation payload; a failure is logged, the next tick retries.
tick() {
  local fn=$1 status
  local payload='{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"'$fn'","UtcNow":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'"}}}'
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 50 -X POST \
    -H 'Content-Type: application/json' --data "$payload" \
    "http://127.0.0.1:$HANDLER_PORT/$fn") || true
  case $status in
    200) ;;
    000 | '') echo "run: timer $fn: no answer from the handler; next tick in a minute" >&2 ;;
    *) echo "run: timer $fn failed with HTTP $status (the handler's log says why); next tick in a minute" >&2 ;;
  esac
}

if [[ -n $STORAGE_ONLY ]]; then
  : # func start runs the timers itself
elif ((${#timers[@]})) && ! command -v curl >/dev/null; then
  echo "run: curl not found: the timer functions (${timers[*]}) will not run" >&2
elif ((${#timers[@]})); then
  start_child bash -c "$(declare -f tick); HANDLER_PORT=$HANDLER_PORT"'
    trap "exit 0" TERM
    while :; do
      sleep $((60 - 10#$(date +%S))) & wait $!
      for fn in "$@"; do tick "$fn"; done
    done' ticker "${timers[@]}"
  ticker_pid=$!
fi

# Run until the handler (Azurite, with --storage-only) exits or, under make, make
# removes the alive file.
while kill -0 "$main_pid" 2>/dev/null && [[ -z $ALIVE_FILE || -e $ALIVE_FILE ]]; do
  sleep 0.5
done
if ! kill -0 "$main_pid" 2>/dev/null; then
  status=0
  wait "$main_pid" || status=$?
  echo "run: process $main_pid exited with status $status" >&2
  exit 1
fi
