#!/usr/bin/env bash
# Hostile peers, files and faults against the built daemon: the long cases of issue 14 (the quick ones are tests;
# README.md here maps every case to its test or to this script). Loopback only; every case is bounded in size and
# time. Against one running daemon (peers.py): 20,000 idle connections to the metrics port, 300,000 distinct
# subscriptions and a frame declaring 4 GiB at the publisher, 200-subscriber churn, garbage on the ZeroMQ port, a
# SIGHUP storm. That daemon runs one pipeline whose source does not exist: it fails and restarts with back-off while
# the publisher sends heartbeats every second and the metrics port serves, so memory and descriptors move only with
# what the peers do. With daemons of their own (daemon_cases.py): 50 MB configurations, garbage and silent RTSP
# servers beside a healthy pipeline, a full disk on an 8 MB tmpfs (root; also measures the time from a stage
# failure to the supervisor's restart). Prints one JSON line per case (see peers.py and daemon_cases.py).
# Usage: benchmarks/hostile/run.sh [idle|flood|frame|churn|garbage|sighup|bigconfig|servers|diskfull ...]
#        (ANOMALYD_BIN=PATH runs that binary instead of building; IDLE_CONNECTIONS, SUBSCRIPTIONS, FRAME_MB,
#        CHURN_SUBSCRIBERS, GARBAGE_PEERS, SIGHUPS, HOLD_S change the sizes; PYTHON, Debian's python3 by default, needs pyzmq and numpy)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=out/hostile
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PY=${PYTHON:-/usr/bin/python3}
PUB_PORT=${PUB_PORT:-5621}
HTTP_PORT=${HTTP_PORT:-9621}
mkdir -p "$OUT"
[ -n "${ANOMALYD_BIN:-}" ] || nice swift build -c release --product anomalyd >&2
PEER_CASES=() DAEMON_CASES=()
for c in "${@:-idle flood frame churn garbage sighup bigconfig servers diskfull}"; do
  for one in $c; do
    case $one in
      idle|flood|frame|churn|garbage|sighup) PEER_CASES+=("$one") ;;
      bigconfig|servers|diskfull) DAEMON_CASES+=("$one") ;;
      *) echo "hostile: unknown case $one" >&2; exit 2 ;;
    esac
  done
done
if [ ${#DAEMON_CASES[@]} -gt 0 ]; then
  [ -f "$OUT/belt.mp4" ] || "$PY" scripts/make_demo_video.py "$OUT/belt.mp4" --seconds 8 --novel "" \
    --width 320 --height 180 >/dev/null
  "$PY" benchmarks/hostile/daemon_cases.py "$BIN" "$PWD/$TEACHER" "$PWD/$OUT/belt.mp4" "$PWD/$OUT" "${DAEMON_CASES[@]}"
fi
[ ${#PEER_CASES[@]} -gt 0 ] || exit 0

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
"$PY" benchmarks/hostile/peers.py "$DAEMON" "$PUB_PORT" "$HTTP_PORT" "${PEER_CASES[@]}"
kill -0 $DAEMON 2>/dev/null || { echo "hostile: the daemon died during the run" >&2; exit 1; }
kill -TERM $DAEMON
wait $DAEMON || { echo "hostile: the daemon exited with $?" >&2; exit 1; }
