#!/usr/bin/env bash
# Small defects in a wide picture (issue 16): a 1920x1080 belt scene whose belt fills a 1920x400 strip (rows
# 340-740), 10 small novel objects of 30-60 px (a screw or a washer lying between boxes, a chip out of a box's top
# edge) among the normal boxes after the learning phase, the false-alarm shift's nuisances at a milder level.
# The same video goes through `anomalyd run` twice, with the same detector and budget: the whole picture squashed
# to 224x224 (a 40 px screw becomes 5x8 model pixels), then `roi: [0, 340, 1920, 400]` with `tiles: [4, 1]` (19x22).
# Prints per run: objects caught, false episodes, time from full view to `new`, each caught episode's box, wall time.
# Usage: benchmarks/smallobjects/run.sh   (MINUTES=8 LEARN_S=120 NOVEL=10 SAMPLE_FPS=5 RUNS="whole roi-tiles"; ANOMALYD_BIN=PATH;
#        DETECTOR='{...}' overrides the detector, default '{student_depth: 0, patch_memory: 4096}')
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${MINUTES:-8}
LEARN_S=${LEARN_S:-120}
NOVEL=${NOVEL:-10}
export SAMPLE_FPS=${SAMPLE_FPS:-5}
export DETECTOR=${DETECTOR:-"{student_depth: 0, patch_memory: 4096}"}
VIDEO=out/smallobjects/belt-${MINUTES}min.mp4
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PORT=${PORT:-5633}
PY=/usr/bin/python3
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
mkdir -p out/smallobjects
if [ ! -f "$VIDEO" ] || [ ! -f "$VIDEO.json" ]; then
  echo "smallobjects: rendering $MINUTES minutes of 1080p belt (once)" >&2
  "$PY" scripts/make_demo_video.py "$VIDEO.tmp.mp4" --truth "$VIDEO.json" --seconds $((MINUTES * 60)) \
    --width 1920 --height 1080 --fps 10 --crf 26 --belt 340:740 --noise 3 --light-drift 0.05 --shake 1 \
    --speed-var 0.1 --size-var 0.1 --hue-var 0.1 --rotation 5 --gaps 0.05 \
    --novel-count "$NOVEL" --novel-after $((LEARN_S + 20)) --small-novel 30:60 > /dev/null
  mv "$VIDEO.tmp.mp4" "$VIDEO"
fi
. benchmarks/falsealarms/daemon_run.sh
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /machine: /'
for run in ${RUNS:-whole roi-tiles}; do
  OUT=out/smallobjects/$run
  rm -rf "$OUT" && mkdir -p "$OUT"
  if [ "$run" = roi-tiles ]; then SOURCE_EXTRA="roi: [0, 340, 1920, 400]
    tiles: [4, 1]"; else SOURCE_EXTRA=""; fi
  daemon_run belt "$VIDEO"
  "$PY" - "$OUT" "$VIDEO.json" "$LEARN_S" "$WALL_SECONDS" "$run" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, truth_path, learn_s, seconds, run = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
truth = json.load(open(truth_path))
episodes = {}
for line in open(f"{out}/messages.jsonl"):
    m = json.loads(line)
    if not m.get("schema", "").startswith("anomalyd.event"):
        continue
    e = episodes.setdefault(m["id"], {"boxes": []})
    pts = m["frame"]["pts_seconds"]
    e.setdefault("start", pts)
    e["end"] = pts
    if m["type"] != "end" and m.get("region"):
        e["boxes"].append((m["region"]["bbox"], m["region"].get("tiles")))
caught, delays = 0, []
for n in truth["novel"]:
    hits = [e for e in episodes.values() if e["start"] <= n["end"] + 1 and e["end"] >= n["start"] - 1]
    for e in hits:
        e["novel"] = n["kind"]
    first = min((e["start"] for e in hits), default=None)
    box = next((e["boxes"][0] for e in hits if e["boxes"]), None)
    if first is not None:
        caught += 1
        delays.append(first - n["start"])
    print(f"{run}: {n['kind']:6s} {n['px']:4.1f} px in view {n['start']:6.1f}-{n['end']:6.1f} s: "
          + (f"new at {first:6.1f} s ({first - n['start']:+.1f} s), box {box[0]}{' tiles ' + str(box[1]) if box[1] else ''}"
             if first is not None else "MISSED"))
false = sorted((e for e in episodes.values() if "novel" not in e), key=lambda e: e["start"])
for e in false:
    print(f"{run}: false episode {e['start']:6.1f}-{e['end']:6.1f} s, box {e['boxes'][0][0] if e['boxes'] else None}")
print(json.dumps({"case": "smallobjects", "run": run, "caught": caught, "novel": len(truth["novel"]),
                  "false_episodes": len(false), "detect_minutes": round((truth["seconds"] - learn_s) / 60, 1),
                  "median_delay_s": round(statistics.median(delays), 2) if delays else None, "wall_seconds": seconds}))
PY
done
