#!/usr/bin/env bash
# Decode + scale throughput on ONE core: anomalyd's in-process FFmpeg path vs the ffmpeg command line doing
# the same work (720p H.264 -> 224x224 RGB24), same file, same core, same run.
#
# Like for like: both sides use one decoder thread and swscale's "area" scaler (anomalyd's antialiased
# default; the CLI's own default is bicubic, so it gets flags=area explicitly). The CLI is also timed with
# its default bicubic for reference. Each side runs RUNS times, interleaved; the best run counts.
set -euo pipefail
cd "$(dirname "$0")/../.."

CORE=${CORE:-1}
RUNS=${RUNS:-5}
WORK=${WORK:-${TMPDIR:-/tmp}/anomalyd-ingest-bench}
mkdir -p "$WORK"
IN="$WORK/in.mp4"

if [ ! -s "$IN" ]; then
  echo "generating 20 s of 1280x720 30 fps H.264 (testsrc2, libx264) in $IN"
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=1280x720:r=30:d=20 \
    -c:v libx264 -preset medium -pix_fmt yuv420p "$IN"
fi
FRAMES=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$IN")

swift build -c release --product anomalyd 2>&1 | tail -1
BIN="$(swift build -c release --show-bin-path)/anomalyd"

# Wall seconds of one command, pinned to $CORE.
seconds() {
  local start end
  start=$(date +%s.%N)
  taskset -c "$CORE" "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }'
}

SWIFT_CMD=("$BIN" frames "$IN" --benchmark)
CLI_AREA=(ffmpeg -hide_banner -loglevel error -threads 1 -filter_threads 1 -i "$IN"
          -vf scale=224:224:flags=area -f rawvideo -pix_fmt rgb24 -y /dev/null)
CLI_BICUBIC=(ffmpeg -hide_banner -loglevel error -threads 1 -filter_threads 1 -i "$IN"
             -vf scale=224:224 -f rawvideo -pix_fmt rgb24 -y /dev/null)

# The Swift side must really decode every frame.
"${SWIFT_CMD[@]}" | grep -q "frames=$FRAMES " || { echo "anomalyd did not decode all $FRAMES frames" >&2; exit 1; }

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
best_swift=999999 best_area=999999 best_bicubic=999999
for _ in $(seq "$RUNS"); do
  best_swift=$(min "$(seconds "${SWIFT_CMD[@]}")" "$best_swift")
  best_area=$(min "$(seconds "${CLI_AREA[@]}")" "$best_area")
  best_bicubic=$(min "$(seconds "${CLI_BICUBIC[@]}")" "$best_bicubic")
done

fps() { awk -v n="$FRAMES" -v t="$1" 'BEGIN { printf "%.1f", n / t }'; }
echo "input: $IN ($FRAMES frames, 1280x720 H.264), core $CORE, best of $RUNS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3)"
echo "anomalyd frames --benchmark (decoder thread_count=1, SWS_AREA): $(fps "$best_swift") frames/s"
echo "ffmpeg -threads 1 -filter_threads 1 scale=224:224:flags=area:  $(fps "$best_area") frames/s"
echo "ffmpeg -threads 1 -filter_threads 1 scale=224:224 (bicubic):   $(fps "$best_bicubic") frames/s"
awk -v s="$best_swift" -v c="$best_area" 'BEGIN { printf "ratio anomalyd / ffmpeg (area, like for like): %.3f\n", c / s }'
