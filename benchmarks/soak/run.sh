#!/usr/bin/env bash
# Soak: the daemon on a looping 720p recording, paced as a live camera, for MINUTES (default 30), with a real
# subscriber on every message. Samples the daemon's resident memory, open file descriptors and threads every
# 10 s, then reports: memory growth after warm-up, descriptor range, messages received, seq gaps, episodes.
# The recording holds one novel object per loop, so every loop opens and closes an episode (events and JPEG
# evidence are exercised, not only heartbeats). Extra YAML for the pipeline (e.g. a refit section) can be passed
# in SOAK_PIPELINE_EXTRA.
# Usage: benchmarks/soak/run.sh [MINUTES]   (ANOMALYD_BIN=PATH soaks that binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${1:-30}
OUT=out/soak
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PY=/usr/bin/python3
PORT=5611
mkdir -p "$OUT"
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
unset OPENBLAS_CORETYPE

[ -f "$OUT/loop.mp4" ] || $PY scripts/make_demo_video.py "$OUT/loop.mp4" --seconds 60 --novel 35 --width 1280 --height 720 >/dev/null
rm -rf "$OUT/state" "$OUT/samples.csv" "$OUT/messages.jsonl"

cat > "$OUT/soak.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:$PORT", heartbeat_s: 5, status_s: 30}
pipelines:
  soak:
    source: $OUT/loop.mp4
    teacher: $TEACHER
    realtime: true
    loop: true
    sample_fps: 10
    state_dir: $OUT/state
    learning: {frames: 250}
    detector: {student_depth: 4, epochs: 8}
${SOAK_PIPELINE_EXTRA:-}
YAML
"$BIN" check --config "$OUT/soak.yaml" >&2

"$BIN" subscribe --endpoint "tcp://127.0.0.1:$PORT" > "$OUT/messages.jsonl" 2> "$OUT/gaps.txt" &
SUB=$!
"$BIN" run --config "$OUT/soak.yaml" 2> "$OUT/daemon.log" &
DAEMON=$!
trap 'kill $SUB $DAEMON 2>/dev/null || true' EXIT

echo "seconds,rss_kb,fds,threads" > "$OUT/samples.csv"
START=$(date +%s)
while [ $(( $(date +%s) - START )) -lt $(( MINUTES * 60 )) ]; do
  kill -0 $DAEMON 2>/dev/null || { echo "soak: the daemon exited early" >&2; exit 1; }
  rss=$(awk '/VmRSS/ {print $2}' /proc/$DAEMON/status)
  fds=$(ls /proc/$DAEMON/fd | wc -l)
  threads=$(awk '/Threads/ {print $2}' /proc/$DAEMON/status)
  echo "$(( $(date +%s) - START )),$rss,$fds,$threads" >> "$OUT/samples.csv"
  sleep 10
done
kill -TERM $DAEMON
wait $DAEMON || { echo "soak: the daemon exited with $?" >&2; exit 1; }
sleep 1
kill $SUB 2>/dev/null || true
wait $SUB 2>/dev/null || true

$PY - "$OUT" "$MINUTES" <<'PYEOF'
import csv, json, sys
out, minutes = sys.argv[1], float(sys.argv[2])
rows = [dict((k, int(v)) for k, v in r.items()) for r in csv.DictReader(open(out + "/samples.csv"))]
msgs = [json.loads(l) for l in open(out + "/messages.jsonl")]
gaps = [l for l in open(out + "/gaps.txt") if l.strip()]
# Warm-up: learning (about 25 s of frames plus training) and the first loop; growth is measured after it.
warm = [r for r in rows if r["seconds"] >= 300] or rows
half = len(warm) // 2
first, last = warm[:max(1, half)], warm[half:] or warm
mb = lambda kb: kb / 1024
seqs, kinds, episodes = {}, {}, set()
for m in msgs:
    kinds[m["schema"]] = kinds.get(m["schema"], 0) + 1
    if m["schema"].startswith("anomalyd.event"):
        episodes.add(m["id"])
states = [m.get("state") for m in msgs if m["schema"].startswith("anomalyd.status")]
print(json.dumps({
    "minutes": minutes, "samples": len(rows),
    "rss_mb": {"after_warmup_first": round(mb(warm[0]["rss_kb"]), 1), "end": round(mb(rows[-1]["rss_kb"]), 1),
               "max": round(mb(max(r["rss_kb"] for r in rows)), 1),
               "mean_first_half": round(mb(sum(r["rss_kb"] for r in first) / len(first)), 1),
               "mean_second_half": round(mb(sum(r["rss_kb"] for r in last) / len(last)), 1)},
    "fds": {"min": min(r["fds"] for r in rows), "max": max(r["fds"] for r in rows),
            "after_warmup_first": warm[0]["fds"], "end": rows[-1]["fds"]},
    "threads": {"min": min(r["threads"] for r in rows), "max": max(r["threads"] for r in rows)},
    "messages": len(msgs), "by_schema": kinds, "episodes": len(episodes),
    "seq_gap_reports": len(gaps), "gap_lines": gaps[:5],
    "final_state": states[-1] if states else None,
}, indent=1))
PYEOF
grep -E "pipeline finished|error" "$OUT/daemon.log" | tail -5 >&2 || true
