#!/usr/bin/env bash
# False alarms over a long normal shift (issue 15): a 60-minute 640x360 10 fps belt rendered by the demo generator
# with the nuisances a real line has (sensor noise, slow lighting drift and one sudden light change at 30 min,
# 2 px camera shake, belt speed +-10 %, normal boxes varying in size, hue and rotation, empty slots, H.264 at
# CRF 28) and 20 novel objects of varied kind, colour and size after the 5-minute learning phase. The daemon
# learns from the first LEARN_S (300) seconds with the default detector and budget, then detects the rest as
# fast as it can (the file is not paced; every frame is scored). A real subscriber records every message.
# Prints: false episodes (and per hour of detection), novel objects caught, time from full view to `new`, and a
# JSON summary; the episodes' evidence JPEGs stay in out/falsealarms/shift/.
# Usage: benchmarks/falsealarms/shift.sh   (MINUTES=60 LEARN_S=300 NOVEL=20; ANOMALYD_BIN=PATH runs that binary;
#        DETECTOR='{...}' and DECISION='{...}' override those sections; OUT=DIR and PORT=N run a second one beside it)
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${MINUTES:-60}
LEARN_S=${LEARN_S:-300}
NOVEL=${NOVEL:-20}
OUT=${OUT:-out/falsealarms/shift}
VIDEO=out/falsealarms/shift-${MINUTES}min.mp4
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
PORT=${PORT:-5632}
PY=/usr/bin/python3
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
mkdir -p out/falsealarms
if [ ! -f "$VIDEO" ] || [ ! -f "$VIDEO.json" ]; then
  echo "shift: rendering $MINUTES minutes of belt (once; about 7 s per minute)" >&2
  "$PY" scripts/make_demo_video.py "$VIDEO.tmp.mp4" --truth "$VIDEO.json" --seconds $((MINUTES * 60)) \
    --width 640 --height 360 --fps 10 --crf 28 --noise 4 --light-drift 0.08 --light-step $((MINUTES * 30)):0.8 \
    --shake 2 --speed-var 0.1 --size-var 0.1 --hue-var 0.15 --rotation 10 --gaps 0.05 \
    --novel-count "$NOVEL" --novel-after $((LEARN_S + 30)) > /dev/null
  mv "$VIDEO.tmp.mp4" "$VIDEO"
fi
rm -rf "$OUT" && mkdir -p "$OUT"
. benchmarks/falsealarms/daemon_run.sh
daemon_run belt "$VIDEO"
"$PY" - "$OUT" "$VIDEO.json" "$LEARN_S" "$WALL_SECONDS" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
sys.path.insert(0, "benchmarks/falsealarms")
import episodes as ep
out, truth_path, learn_s, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
truth = json.load(open(truth_path))
episodes, status = ep.read(f"{out}/messages.jsonl")
# An episode belongs to a novel object when it overlaps the object's time partly in view (a second either side of
# fully in view covers entering and leaving at 10 fps); every other episode is false.
caught, delays = 0, []
for n in truth["novel"]:
    hits = [e for e in episodes.values() if e["start"] <= n["end"] + 1 and e["end"] >= n["start"] - 1]
    for e in hits:
        e["novel"] = n["kind"]
    first = min((e["start"] for e in hits), default=None)
    if first is not None:
        caught += 1
        delays.append(first - n["start"])
    print(f"novel {n['kind']:8s} scale {n['scale']:.2f} colour {tuple(n['colour'])} in view {n['start']:7.1f}-{n['end']:7.1f} s: "
          + (f"new at {first:7.1f} s ({first - n['start']:+.1f} s)" if first is not None else "MISSED"))
false = sorted((e for e in episodes.values() if "novel" not in e), key=lambda e: e["start"])
for e in false:
    print(f"false episode {e['start']:7.1f}-{e['end']:7.1f} s ({e['end'] - e['start']:.1f} s), peak score {e['peak']:.2f}, "
          f"peak surprise {e['surprise']:.1f}")
hours = (truth["seconds"] - learn_s) / 3600
print(json.dumps({"case": "shift", "minutes": truth["seconds"] / 60, "learn_s": learn_s, "episodes": len(episodes),
                  "false_episodes": len(false), "false_per_hour": round(len(false) / hours, 2),
                  "caught": caught, "novel": len(truth["novel"]),
                  "median_delay_s": round(statistics.median(delays), 2) if delays else None,
                  "max_delay_s": round(max(delays), 2) if delays else None,
                  "budget": (status or {}).get("budget"), "wall_seconds": seconds}))
PY
