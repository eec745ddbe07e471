#!/usr/bin/env bash
# The main job: the daemon on the demo pipeline (pipelines/demo.yaml). Renders a conveyor-belt recording with
# novel objects at known times (once), starts a subscriber, runs the daemon on the recording paced as a live
# camera, and prints the events as they arrive, then how they compare with the ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/anomalyd
OUT=out/demo
PY=/usr/bin/python3   # Debian's python, which has python3-numpy
mkdir -p "$OUT"

if [ ! -f "$OUT/belt.mp4" ] || [ ! -f "$OUT/truth.json" ]; then
  echo "demo: rendering the conveyor-belt recording (90 s, 1280x720; once)"
  "$PY" scripts/make_demo_video.py "$OUT/belt.mp4.tmp.mp4" --truth "$OUT/truth.json" --seconds 90 --novel 40,55,70 >/dev/null
  mv "$OUT/belt.mp4.tmp.mp4" "$OUT/belt.mp4"
fi
rm -rf "$OUT/state"   # learn afresh every run

"$BIN" check --config pipelines/demo.yaml
echo "demo: subscribing to anomaly/belt/ events; the daemon learns from the first 25 s, then detects"
echo "demo: the review page is on http://127.0.0.1:8780/ while it runs"
"$BIN" subscribe --endpoint tcp://127.0.0.1:5556 --pipeline belt --kind event --kind status > "$OUT/messages.jsonl" 2> "$OUT/subscribe.err" &
SUB=$!
trap 'kill $SUB 2>/dev/null || true' EXIT
# Show events (and state changes) as they arrive.
tail -n +1 -F "$OUT/messages.jsonl" 2>/dev/null | "$PY" -u -c '
import json, sys
state = None
for line in sys.stdin:
    m = json.loads(line)
    if m["schema"].startswith("anomalyd.status"):
        if m["state"] != state:
            state = m["state"]
            print("  [status] %s%s" % (state, (": " + m["detail"]) if m.get("detail") else ""), flush=True)
        continue
    print("  [event]  %-6s %s  video t=%5.1f s  score %.2f  bbox %s%s" % (m["type"], m["id"], m["frame"]["pts_seconds"],
          m["score"], m["region"]["bbox"], ("  (" + m["reason"] + ")") if m.get("reason") else ""), flush=True)
' &
SHOW=$!
trap 'kill $SUB $SHOW 2>/dev/null || true' EXIT
sleep 0.5
"$BIN" run --config pipelines/demo.yaml 2> "$OUT/daemon.log"
sleep 1
kill $SUB $SHOW 2>/dev/null || true
wait 2>/dev/null || true

"$PY" - "$OUT/messages.jsonl" "$OUT/truth.json" <<'PYEOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if '"anomalyd.event' in l]
truth = json.load(open(sys.argv[2]))["novel"]
episodes = {}
for e in events:
    ep = episodes.setdefault(e["id"], {})
    ep.setdefault("start", e["frame"]["pts_seconds"])
    if e["type"] == "end":
        ep["end"] = e["frame"]["pts_seconds"]
print("\ndemo: %d episode(s) for %d novel object(s)" % (len(episodes), len(truth)))
for n in truth:
    hit = [i for i, ep in episodes.items() if ep["start"] <= n["end"] + 1 and ep.get("end", 1e9) >= n["start"] - 1]
    print("  %-8s in view %5.1f-%5.1f s: %s" % (n["kind"], n["start"], n["end"],
          ", ".join("%s (%.1f-%.1f s)" % (i, episodes[i]["start"], episodes[i].get("end", float("nan"))) for i in hit) or "MISSED"))
print("  daemon log: out/demo/daemon.log; every message: out/demo/messages.jsonl")
PYEOF
