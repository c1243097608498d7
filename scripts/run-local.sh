#!/usr/bin/env bash
# The local stack behind `make run`: disk-backed Azurite (blob + table) and the
# control-plane handler on 127.0.0.1:7071, the same port `func start` would use.
# Ctrl-C stops everything this script started (by PID; nothing else is touched).
set -euo pipefail
cd "$(dirname "$0")/.."

BLOB_PORT=${SPOOL_BLOB_PORT:-10000}
TABLE_PORT=${SPOOL_TABLE_PORT:-10002}
HANDLER_PORT=${FUNCTIONS_CUSTOMHANDLER_PORT:-7071}
DATA_DIR=${SPOOL_DATA_DIR:-.run/azurite}
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

for port in "$BLOB_PORT" "$TABLE_PORT" "$HANDLER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run: port $port on 127.0.0.1 is already in use (another 'make run'?)" >&2
    exit 1
  fi
done

mkdir -p "$DATA_DIR"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

common=(--skipApiVersionCheck --disableTelemetry --silent --location "$DATA_DIR")
node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$BLOB_PORT" "${common[@]}" &
pids+=($!)
node_modules/.bin/azurite-table --tableHost 127.0.0.1 --tablePort "$TABLE_PORT" "${common[@]}" &
pids+=($!)

for port in "$BLOB_PORT" "$TABLE_PORT"; do
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done

export FUNCTIONS_CUSTOMHANDLER_PORT=$HANDLER_PORT
export SPOOL_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/$ACCOUNT;TableEndpoint=http://127.0.0.1:$TABLE_PORT/$ACCOUNT;"
echo "run: Azurite blob :$BLOB_PORT table :$TABLE_PORT (data in $DATA_DIR); API at http://127.0.0.1:$HANDLER_PORT/api" >&2
echo "run: in another shell: export PATH=\"\$PWD/bin:\$PATH\"; spool buffer create" >&2
bin/handler &
pids+=($!)
wait "${pids[2]}"
