#!/usr/bin/env bash
# Hostile peers against the built daemon, the long cases of issue 14 (the quick ones are tests): 20,000 idle
# connections to the metrics port, 300,000 distinct subscriptions and a frame declaring 4 GiB at the publisher.
# Loopback only; every case is bounded in size and time and the whole run stops by itself in a few minutes.
# The daemon runs one pipeline whose source does not exist: it fails and restarts with back-off while the
# publisher sends heartbeats every second and the metrics port serves, so memory and descriptors move only with
# what the peers do. Prints one JSON line per case (see peers.py for the fields).
# Usage: benchmarks/hostile/run.sh [idle|flood|frame ...]   (ANOMALYD_BIN=PATH runs that binary instead of building;
#        IDLE_CONNECTIONS, SUBSCRIPTIONS, FRAME_MB, HOLD_S change the sizes)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=out/hostile
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PY=/usr/bin/python3
PUB_PORT=${PUB_PORT:-5621}
HTTP_PORT=${HTTP_PORT:-9621}
mkdir -p "$OUT"
[ -n "${ANOMALYD_BIN:-}" ] || nice swift build -c release --product anomalyd >&2

cat > "$OUT/hostile.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:$PUB_PORT", heartbeat_s: 1}
metrics: {listen: "127.0.0.1:$HTTP_PORT"}
pipelines:
  hostile:
    source: $PWD/$OUT/no-such-camera.mp4
    teacher: $TEACHER
    state_dir: $OUT/state
YAML
"$BIN" check --config "$OUT/hostile.yaml" >&2

# As many descriptors as the hard limit allows, as a service with a raised LimitNOFILE would have.
ulimit -n "$(ulimit -Hn)"
"$BIN" run --config "$OUT/hostile.yaml" 2> "$OUT/daemon.log" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
  kill -0 $DAEMON 2>/dev/null || { echo "hostile: the daemon exited: $(tail -5 "$OUT/daemon.log")" >&2; exit 1; }
  sleep 0.2
done
echo "{\"machine\": \"$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)\", \"binary\": \"$BIN\", \"descriptor_limit\": $(ulimit -n)}"
"$PY" benchmarks/hostile/peers.py "$DAEMON" "$PUB_PORT" "$HTTP_PORT" "$@"
kill -0 $DAEMON 2>/dev/null || { echo "hostile: the daemon died during the run" >&2; exit 1; }
kill -TERM $DAEMON
wait $DAEMON || { echo "hostile: the daemon exited with $?" >&2; exit 1; }
