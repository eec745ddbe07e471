#!/usr/bin/env bash
# False alarms on real CCTV (issue 15): Debian's opencv-doc ships vtest.avi (768x576, 10 fps, ~80 s, people
# walking on a path and a lawn). The daemon learns from the first LEARN_S (40) seconds with the default detector
# and the default false-alarm budget, then detects in the rest; a real subscriber records every message. Prints
# one line per episode (start and end in video seconds, peak score, peak surprise) and a JSON summary; the
# episodes' evidence JPEGs stay in out/falsealarms/vtest/ to say what is in view.
# Usage: benchmarks/falsealarms/vtest.sh   (ANOMALYD_BIN=PATH runs that binary; DETECTOR='{...}' overrides the
#        detector section, e.g. '{student_depth: 4, epochs: 8}' for a quick run)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=out/falsealarms/vtest
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
CLIP=/usr/share/doc/opencv-doc/examples/data/vtest.avi
LEARN_S=${LEARN_S:-40}
PORT=${PORT:-5631}
PY=/usr/bin/python3
[ -f "$CLIP" ] || { echo "vtest: installing opencv-doc for $CLIP" >&2; ${SUDO:-} apt-get install -y -q --no-install-recommends opencv-doc >&2; }
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
rm -rf "$OUT" && mkdir -p "$OUT"
cat > "$OUT/vtest.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:$PORT", heartbeat_s: 5}
pipelines:
  vtest:
    source: $CLIP
    teacher: $TEACHER
    sample_fps: 10
    state_dir: $OUT/state
    learning: {frames: $((LEARN_S * 10))}
    detector: ${DETECTOR:-{\}}
YAML
"$BIN" check --config "$OUT/vtest.yaml" >&2
"$PY" -u benchmarks/falsealarms/subscribe.py "$PORT" "$OUT" > "$OUT/messages.jsonl" 2> "$OUT/subscriber.err" &
SUB=$!
trap 'kill $SUB 2>/dev/null || true' EXIT
sleep 1
started=$(date +%s)
"$BIN" run --config "$OUT/vtest.yaml" 2> "$OUT/daemon.log"
sleep 1
kill -INT $SUB 2>/dev/null || true
wait $SUB 2>/dev/null || true
"$PY" - "$OUT" "$LEARN_S" "$(( $(date +%s) - started ))" <<'PY'
import json, sys
out, learn_s, seconds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
episodes, status = {}, None
for line in open(f"{out}/messages.jsonl"):
    msg = json.loads(line)
    if msg.get("schema", "").startswith("anomalyd.status"):
        status = msg
    if not msg.get("schema", "").startswith("anomalyd.event"):
        continue
    e = episodes.setdefault(msg["id"], {"peak": 0, "surprise": 0})
    pts = msg["frame"]["pts_seconds"]
    e.setdefault("start", pts)
    e["end"] = pts
    e["peak"] = max(e["peak"], msg["peak_score"])
    e["surprise"] = max(e["surprise"], msg["raw_score"])
    e["closed"] = msg["type"] == "end"
for i, (k, e) in enumerate(sorted(episodes.items(), key=lambda x: x[1]["start"])):
    print(f"episode {i + 1}: {e['start']:.1f}-{e['end']:.1f} s ({e['end'] - e['start']:.1f} s), peak score {e['peak']:.2f}, "
          f"peak surprise {e['surprise']:.1f}, {k}")
durations = [e["end"] - e["start"] for e in episodes.values()]
print(json.dumps({"case": "vtest", "learn_s": learn_s, "episodes": len(episodes),
                  "longest_s": round(max(durations), 1) if durations else 0,
                  "budget": (status or {}).get("budget"), "wall_seconds": seconds}))
PY
