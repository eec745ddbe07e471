#!/usr/bin/env bash
# False alarms on real CCTV (issue 15): Debian's opencv-doc ships vtest.avi (768x576, 10 fps, ~80 s, people
# walking on a path and a lawn). The daemon learns from the first LEARN_S (40) seconds with the default detector
# and the default false-alarm budget, then detects in the rest; a real subscriber records every message. Prints
# one line per episode (start and end in video seconds, peak score, peak surprise) and a JSON summary; the
# episodes' evidence JPEGs stay in out/falsealarms/vtest/ to say what is in view.
# Usage: benchmarks/falsealarms/vtest.sh   (ANOMALYD_BIN=PATH runs that binary; DETECTOR='{...}' overrides the
#        detector section, e.g. '{student_depth: 4, epochs: 8}' for a quick run;
#        OUT=DIR and PORT=N run a second one beside it)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/falsealarms/vtest}
BIN=${ANOMALYD_BIN:-.build/release/anomalyd}
TEACHER=models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors
CLIP=/usr/share/doc/opencv-doc/examples/data/vtest.avi
LEARN_S=${LEARN_S:-40}
PORT=${PORT:-5631}
PY=/usr/bin/python3
[ -f "$CLIP" ] || { echo "vtest: installing opencv-doc for $CLIP" >&2; ${SUDO:-} apt-get install -y -q --no-install-recommends opencv-doc >&2; }
[ -n "${ANOMALYD_BIN:-}" ] || swift build -c release --product anomalyd >&2
rm -rf "$OUT" && mkdir -p "$OUT"
. benchmarks/falsealarms/daemon_run.sh
daemon_run vtest "$CLIP"
"$PY" - "$OUT" "$LEARN_S" "$WALL_SECONDS" <<'PY'
import json, sys
sys.path.insert(0, "benchmarks/falsealarms")
import episodes as ep
out, learn_s, seconds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
episodes, status = ep.read(f"{out}/messages.jsonl")
for i, (k, e) in enumerate(sorted(episodes.items(), key=lambda x: x[1]["start"])):
    print(f"episode {i + 1}: {e['start']:.1f}-{e['end']:.1f} s ({e['end'] - e['start']:.1f} s), peak score {e['peak']:.2f}, "
          f"peak surprise {e['surprise']:.1f}, {k}")
durations = [e["end"] - e["start"] for e in episodes.values()]
print(json.dumps({"case": "vtest", "learn_s": learn_s, "episodes": len(episodes),
                  "longest_s": round(max(durations), 1) if durations else 0,
                  "budget": (status or {}).get("budget"), "wall_seconds": seconds}))
PY
