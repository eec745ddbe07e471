# Sourced by the false-alarm benchmarks: one pipeline NAME on SOURCE with the default detector and budget (or
# DETECTOR='{...}' / DECISION='{...}'), learning from the first LEARN_S seconds at SAMPLE_FPS (10) frames/s, run to
# the file's end while subscribe.py records every message into $OUT/messages.jsonl. SOURCE_EXTRA adds keys to the
# pipeline (e.g. "roi: [0, 340, 1920, 400], tiles: [4, 1]"). Sets WALL_SECONDS.
# Needs OUT, BIN, TEACHER, PORT, PY, LEARN_S.
daemon_run() {
  local name=$1 source=$2
  cat > "$OUT/$name.yaml" <<YAML
publisher: {endpoint: "tcp://127.0.0.1:$PORT", heartbeat_s: 5}
pipelines:
  $name:
    source: $source
    teacher: $TEACHER
    sample_fps: ${SAMPLE_FPS:-10}
    state_dir: $OUT/state
    learning: {frames: $((LEARN_S * ${SAMPLE_FPS:-10}))}
    ${SOURCE_EXTRA:-}
    detector: ${DETECTOR:-{\}}
    decision: ${DECISION:-{\}}
YAML
  "$BIN" check --config "$OUT/$name.yaml" >&2
  "$PY" -u benchmarks/falsealarms/subscribe.py "$PORT" "$OUT" > "$OUT/messages.jsonl" 2> "$OUT/subscriber.err" &
  local sub=$!
  sleep 1
  local started
  started=$(date +%s)
  "$BIN" run --config "$OUT/$name.yaml" 2> "$OUT/daemon.log" || { kill $sub 2>/dev/null; return 1; }
  sleep 1
  kill -INT $sub 2>/dev/null || true
  wait $sub 2>/dev/null || true
  WALL_SECONDS=$(( $(date +%s) - started ))
}
