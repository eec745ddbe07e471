#!/usr/bin/python3
"""The feedback figure (issue 17): episodes from a repeated "normal but novel-looking" object before and after one
"not an anomaly".

    benchmarks/feedback/run.py [--bin .build/release/anomalyd] [--out out/feedback] [--passes 5]

Renders a 1280x720 belt where an orange disc (the object an operator calls normal) passes --passes times, 20 s
apart from 60 s on (learning and its fit are over by then), then a green triangle (a different novel object) passes once. The daemon runs it twice, paced
as a live camera, each time learning afresh from the first 30 s:
  1. without feedback: how many disc passes open an episode;
  2. the same, and as soon as the first disc's episode has ended the benchmark dismisses it through the review
     API (POST .../feedback {"verdict": "normal"}), as the page's button does.
It prints, per run, each object's episodes, the suppression notices, and the triangle's.
Needs Debian's python3-zmq and the ffmpeg CLI (make test installs both).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(a, video, truth, dismiss, tag):
    state = os.path.join(a.out, tag, "state")
    shutil.rmtree(os.path.join(a.out, tag), ignore_errors=True)
    os.makedirs(state)
    zport, uport = free_port(), free_port()
    config = os.path.join(a.out, tag, "feedback.yaml")
    with open(config, "w") as f:
        f.write(f"""publisher:
  endpoint: tcp://127.0.0.1:{zport}
ui:
  listen: 127.0.0.1:{uport}
pipelines:
  belt:
    source: {video}
    realtime: true
    teacher: {os.path.join(ROOT, 'models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors')}
    sample_fps: 5
    state_dir: {state}
    learning: {{frames: 150}}
""")
    messages = []
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVTIMEO, 200)
    sub.connect(f"tcp://127.0.0.1:{zport}")
    sub.setsockopt(zmq.SUBSCRIBE, b"anomaly/belt/")
    stop = threading.Event()

    def collect():
        while not stop.is_set():
            try:
                parts = sub.recv_multipart()
            except zmq.Again:
                continue
            messages.append((parts[0].decode(), json.loads(parts[1])))

    t = threading.Thread(target=collect)
    t.start()
    log = open(os.path.join(a.out, tag, "daemon.log"), "w")
    daemon = subprocess.Popen([a.bin, "run", "--config", config], stderr=log)
    dismissed = None
    try:
        while daemon.poll() is None:
            time.sleep(0.2)
            if dismiss and dismissed is None:
                ends = [m for topic, m in messages if topic.endswith("/event") and m["type"] == "end"]
                if ends:
                    dismissed = ends[0]["id"]
                    req = urllib.request.Request(
                        f"http://127.0.0.1:{uport}/api/pipelines/belt/episodes/{dismissed}/feedback",
                        data=json.dumps({"verdict": "normal"}).encode(), method="POST",
                        headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=30) as r:
                        print(f"  [{tag}] dismissed {dismissed} at video t={ends[0]['frame']['pts_seconds']:.1f} s: "
                              f"HTTP {r.status} {r.read().decode()}", flush=True)
    finally:
        if daemon.poll() is None:
            daemon.terminate()
        daemon.wait()
        time.sleep(0.5)
        stop.set()
        t.join()
    episodes = {}
    for topic, m in messages:
        if topic.endswith("/event"):
            ep = episodes.setdefault(m["id"], {"start": m["frame"]["pts_seconds"]})
            if m["type"] == "end":
                ep["end"] = m["frame"]["pts_seconds"]
    suppressed = [m for topic, m in messages if topic.endswith("/feedback") and m["type"] == "suppressed"]
    rows = []
    for n in truth:
        hit = [i for i, ep in episodes.items() if ep["start"] <= n["end"] + 1 and ep.get("end", 1e9) >= n["start"] - 1]
        sup = [s for s in suppressed if n["start"] - 1 <= s["frame"]["pts_seconds"] <= n["end"] + 1]
        rows.append((n, hit, sup))
        print(f"  [{tag}] {n['kind']:8s} in view {n['start']:5.1f}-{n['end']:5.1f} s: "
              f"{len(hit)} episode(s){' ' + ', '.join(hit) if hit else ''}; {len(sup)} suppression notice(s)", flush=True)
    false = [i for i, ep in episodes.items() if not any(i in h for _, h, _ in rows)]
    print(f"  [{tag}] episodes elsewhere: {len(false)}", flush=True)
    return rows, dismissed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/anomalyd"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out/feedback"))
    ap.add_argument("--passes", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    times = [60 + 20 * i for i in range(a.passes)]
    triangle = times[-1] + 20
    video = os.path.join(a.out, "belt.mp4")
    render = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make_demo_video.py"), video,
                             "--seconds", str(triangle + 15), "--novel", ",".join(map(str, times + [triangle])),
                             "--novel-kinds", ",".join(["disc"] * a.passes + ["triangle"])],
                            check=True, capture_output=True, text=True)
    truth = json.loads(render.stdout)["novel"]
    print(f"feedback: {a.passes} disc passes at {times} s, a triangle at {triangle} s; 1280x720, sampled at 5 frames/s")
    before, _ = run_once(a, video, truth, False, "without")
    after, dismissed = run_once(a, video, truth, True, "dismissed")
    discs = lambda rows, skip: sum(1 for n, h, _ in rows[skip:] if n["kind"] == "disc" and h)
    print(f"\nfeedback: disc passes after the first that opened an episode: {discs(before, 1)}/{a.passes - 1} without feedback, "
          f"{discs(after, 1)}/{a.passes - 1} after dismissing {dismissed}; "
          f"triangle caught: {bool(before[-1][1])} / {bool(after[-1][1])}")


if __name__ == "__main__":
    main()
