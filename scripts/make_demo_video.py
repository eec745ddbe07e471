#!/usr/bin/env python3
"""Renders a production-line scene: a conveyor belt carrying a steady stream of blue boxes, with a few novel
objects (orange discs, green triangles) riding the belt at known times. Writes the video with the ffmpeg CLI and
the ground truth (when each novel object is fully in view) as JSON.

  make_demo_video.py OUT.mp4 [--truth OUT.json] [--seconds 120] [--width 1280 --height 720] [--fps 25]
                     [--novel 70,90,105] [--drift-colour R,G,B [--drift-start S --drift-end S]]

--drift-colour changes the normal boxes' colour gradually (linearly in video time from --drift-start to
--drift-end, default the whole video) to R,G,B: a scene change the model was not trained on, for refit tests.

Only numpy and the ffmpeg CLI are needed (Debian: python3-numpy, ffmpeg).
"""
import argparse
import json
import subprocess
import sys

import numpy as np

BELT = (70, 72, 78)
STRIPE = (95, 97, 104)
BOX = np.array((40, 90, 200), dtype=np.float32)          # the normal object
NOVEL = [((235, 140, 30), "disc"), ((40, 180, 60), "triangle")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--truth")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--novel", default="70,90,105", help="comma-separated times (s) a novel object enters the view")
    ap.add_argument("--speed", type=float, default=0.25, help="belt speed in frame widths per second")
    ap.add_argument("--spacing", type=float, default=0.34, help="distance between boxes in frame widths")
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--drift-colour", help="R,G,B the normal boxes' colour drifts to")
    ap.add_argument("--drift-start", type=float, default=0, help="video time (s) the drift begins")
    ap.add_argument("--drift-end", type=float, help="video time (s) the drift is complete (default: the end)")
    a = ap.parse_args()
    drift = np.array([float(v) for v in a.drift_colour.split(",")], dtype=np.float32) if a.drift_colour else None
    drift_end = a.seconds if a.drift_end is None else a.drift_end

    W, H, fps = a.width, a.height, a.fps
    speed = a.speed * W                      # px/s
    spacing = a.spacing * W
    size = int(0.17 * H)                     # object size in px
    stripe_period = 0.094 * W                # scene geometry scales with the resolution
    belt_top, belt_bottom = int(0.25 * H), int(0.75 * H)
    cy = (belt_top + belt_bottom) // 2
    novel_times = [float(t) for t in a.novel.split(",") if t.strip()]
    # A novel object replaces the box that would be at the belt's left edge when it enters.
    novels = [{"enter": t, "kind": NOVEL[i % len(NOVEL)][1], "colour": NOVEL[i % len(NOVEL)][0]}
              for i, t in enumerate(novel_times)]
    for n in novels:
        # Fully in view (video time) from when its trailing edge passes x=0 until its leading edge reaches x=W.
        n["start"] = n["enter"] + size / speed
        n["end"] = n["enter"] + W / speed

    yy, xx = np.mgrid[0:H, 0:W]
    ff = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
                           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(a.crf),
                           "-pix_fmt", "yuv420p", "-g", str(2 * fps), a.out], stdin=subprocess.PIPE)
    frames = int(a.seconds * fps)
    base = np.zeros((H, W, 3), dtype=np.uint8)
    base[:] = (35, 38, 42)
    # The belt has been running before the first frame, so the scene is full from frame 0.
    preroll = (W + size) / speed
    for n in novels:
        n["enter"] += preroll
    for f in range(frames):
        t = f / fps + preroll
        img = base.copy()
        # Belt with stripes moving at belt speed, so the background is never static.
        offset = (t * speed) % stripe_period
        stripes = ((xx[belt_top:belt_bottom] + (-offset)) % stripe_period) < stripe_period * 0.14
        img[belt_top:belt_bottom] = BELT
        img[belt_top:belt_bottom][stripes] = STRIPE
        # Boxes: leading edge at x = t*speed - k*spacing.
        k0 = int((t * speed - W - size) // spacing)
        for k in range(max(k0, 0), int(t * speed // spacing) + 1):
            x0 = t * speed - k * spacing - size
            if x0 > W or x0 + size < 0:
                continue
            enter_time = k * spacing / speed
            novel = next((n for n in novels if abs(n["enter"] - enter_time) < spacing / speed / 2), None)
            # Small per-object jitter in position and shade, like real parts on a real belt.
            rng = np.random.default_rng(k)
            dy = int(rng.integers(-H // 40, H // 40 + 1))
            shade = 1 + rng.uniform(-0.08, 0.08)
            box = BOX
            if drift is not None:
                # A box's colour is fixed by when it entered the view, so each object keeps one colour.
                w = np.clip((enter_time - preroll - a.drift_start) / max(drift_end - a.drift_start, 1e-9), 0, 1)
                box = (1 - w) * BOX + w * drift
            draw(img, novel, x0, cy + dy, size, shade, xx, yy, box)
        ff.stdin.write(img.tobytes())
    ff.stdin.close()
    if ff.wait() != 0:
        sys.exit("make_demo_video: ffmpeg failed")
    truth = {"video": a.out, "width": W, "height": H, "fps": fps, "seconds": a.seconds,
             "drift": None if drift is None else {"colour": drift.tolist(), "start": a.drift_start, "end": drift_end},
             "novel": [{"kind": n["kind"], "start": round(n["start"], 3), "end": round(n["end"], 3)} for n in novels]}
    if a.truth:
        with open(a.truth, "w") as fh:
            json.dump(truth, fh, indent=2)
    print(json.dumps(truth))


def draw(img, novel, x0, cy, size, shade, xx, yy, box=BOX):
    H, W, _ = img.shape
    xa, xb = max(int(x0), 0), min(int(x0 + size), W)
    ya, yb = max(cy - size // 2, 0), min(cy + size // 2, H)
    if xa >= xb:
        return
    if novel is None:
        colour = np.clip(box * shade, 0, 255)
        img[ya:yb, xa:xb] = colour.astype(np.uint8)
        # A darker label stripe: the normal part has some structure of its own.
        img[ya + size // 3:ya + size // 3 + size // 8, xa:xb] = (colour * 0.6).astype(np.uint8)
        return
    colour = np.array(novel["colour"], dtype=np.float32) * shade
    sx, sy = xx[ya:yb, xa:xb], yy[ya:yb, xa:xb]
    cx = x0 + size / 2
    if novel["kind"] == "disc":
        mask = (sx - cx) ** 2 + (sy - cy) ** 2 <= (size / 2) ** 2
    else:
        # Triangle pointing up: inside when below both slanted edges.
        rel = (sy - (cy - size / 2)) / size
        mask = np.abs(sx - cx) <= rel * size / 2
    region = img[ya:yb, xa:xb]
    region[mask] = colour.astype(np.uint8)


if __name__ == "__main__":
    main()
