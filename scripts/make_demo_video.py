#!/usr/bin/env python3
"""Renders a production-line scene: a conveyor belt carrying a steady stream of blue boxes, with a few novel
objects (orange discs, green triangles) riding the belt at known times. Writes the video with the ffmpeg CLI and
the ground truth (when each novel object is fully in view) as JSON.

  make_demo_video.py OUT.mp4 [--truth OUT.json] [--seconds 120] [--width 1280 --height 720] [--fps 25]
                     [--novel 70,90,105 [--novel-kinds disc,disc,triangle]] [--drift-colour R,G,B [--drift-start S --drift-end S]]

--drift-colour changes the normal boxes' colour gradually (linearly in video time from --drift-start to
--drift-end, default the whole video) to R,G,B: a scene change the model was not trained on, for refit tests.

Nuisances a real line has (all off by default; the false-alarm benchmark turns them on):
  --noise SIGMA           sensor noise, grey levels (standard deviation)
  --light-drift A         slow lighting drift: gain 1 + A*sin(2 pi t / 1200 s)
  --light-step T:GAIN     one sudden light change at video time T (s) to GAIN times the light
  --shake PX              camera shake: the view moves by up to PX pixels each frame
  --speed-var F           belt speed varies by +-F (fraction) over a 240 s period
  --size-var F, --hue-var F, --rotation DEG   normal objects vary in size, hue and rotation
  --gaps P                a belt slot is empty with probability P
  --novel-count N         N novel objects at seeded times after --novel-after S (instead of --novel), varied in
                          kind (disc, triangle, cross), colour and size

Inspection scenes (the small-objects benchmark):
  --belt Y0:Y1            the belt occupies pixel rows Y0..Y1 (default the middle half of the picture)
  --small-novel A:B       the novel objects are small, A to B px: a screw or a washer lying on the belt between
                          two boxes, or a chip out of a box's top edge; their box is drawn as usual

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
# Varied novel objects (--novel-count): kinds and colours cycle at different periods, so kind and colour mix.
VARIED_KINDS = ["disc", "triangle", "cross"]
VARIED_COLOURS = [(235, 140, 30), (40, 180, 60), (210, 40, 40), (230, 220, 60), (150, 60, 190), (235, 235, 235),
                  (30, 30, 30)]
# Small defects (--small-novel): a steel screw, a brass washer, a chip showing the belt under the box.
SMALL_KINDS = ["screw", "washer", "chip"]
SMALL_COLOURS = {"screw": (170, 172, 180), "washer": (200, 170, 80), "chip": BELT}
LIGHT_PERIOD, SPEED_PERIOD = 1200.0, 240.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--truth")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--novel", default="70,90,105", help="comma-separated times (s) a novel object enters the view")
    ap.add_argument("--novel-kinds", help="kinds of the --novel objects in turn (disc, triangle; default alternating)")
    ap.add_argument("--speed", type=float, default=0.25, help="belt speed in frame widths per second")
    ap.add_argument("--spacing", type=float, default=0.34, help="distance between boxes in frame widths")
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--drift-colour", help="R,G,B the normal boxes' colour drifts to")
    ap.add_argument("--drift-start", type=float, default=0, help="video time (s) the drift begins")
    ap.add_argument("--drift-end", type=float, help="video time (s) the drift is complete (default: the end)")
    ap.add_argument("--noise", type=float, default=0)
    ap.add_argument("--light-drift", type=float, default=0)
    ap.add_argument("--light-step", help="T:GAIN")
    ap.add_argument("--shake", type=int, default=0)
    ap.add_argument("--speed-var", type=float, default=0)
    ap.add_argument("--size-var", type=float, default=0)
    ap.add_argument("--hue-var", type=float, default=0)
    ap.add_argument("--rotation", type=float, default=0)
    ap.add_argument("--gaps", type=float, default=0)
    ap.add_argument("--novel-count", type=int)
    ap.add_argument("--novel-after", type=float, default=330)
    ap.add_argument("--seed", type=int, default=0, help="seeds the nuisances and the --novel-count objects")
    ap.add_argument("--belt", help="Y0:Y1, the belt's pixel rows")
    ap.add_argument("--small-novel", help="A:B, small novel objects of A to B px")
    a = ap.parse_args()
    drift = np.array([float(v) for v in a.drift_colour.split(",")], dtype=np.float32) if a.drift_colour else None
    drift_end = a.seconds if a.drift_end is None else a.drift_end

    W, H, fps = a.width, a.height, a.fps
    speed = a.speed * W                      # px/s (mean)
    spacing = a.spacing * W
    belt_top, belt_bottom = (int(v) for v in a.belt.split(":")) if a.belt else (int(0.25 * H), int(0.75 * H))
    size = int(0.34 * (belt_bottom - belt_top))   # object size in px (0.17 H on the default belt)
    stripe_period = 0.094 * W                # scene geometry scales with the resolution
    cy = (belt_top + belt_bottom) // 2
    rng0 = np.random.default_rng(a.seed)
    if a.novel_count:
        # Evenly spread over the detection part of the video, each jittered by up to a quarter of the gap.
        gap = (a.seconds - 20 - a.novel_after) / a.novel_count
        novel_times = [a.novel_after + (i + 0.5) * gap + rng0.uniform(-gap / 4, gap / 4) for i in range(a.novel_count)]
        novels = [{"enter": t, "kind": VARIED_KINDS[i % len(VARIED_KINDS)],
                   "colour": VARIED_COLOURS[i % len(VARIED_COLOURS)], "scale": float(rng0.uniform(0.7, 1.2))}
                  for i, t in enumerate(novel_times)]
        if a.small_novel:
            lo, hi = (float(v) for v in a.small_novel.split(":"))
            for i, n in enumerate(novels):
                n["kind"] = SMALL_KINDS[i % len(SMALL_KINDS)]
                n["colour"] = SMALL_COLOURS[n["kind"]]
                n["px"] = float(rng0.uniform(lo, hi))
    else:
        novel_times = [float(t) for t in a.novel.split(",") if t.strip()]
        # A novel object replaces the box that would be at the belt's left edge when it enters.
        kinds = [k.strip() for k in a.novel_kinds.split(",")] if a.novel_kinds else [k for _, k in NOVEL]
        by_kind = {k: c for c, k in NOVEL}
        if any(k not in by_kind for k in kinds):
            sys.exit(f"--novel-kinds: expected a comma-separated list of {', '.join(by_kind)}, got {a.novel_kinds!r}")
        novels = [{"enter": t, "kind": kinds[i % len(kinds)], "colour": by_kind[kinds[i % len(kinds)]], "scale": 1.0}
                  for i, t in enumerate(novel_times)]

    def travelled(t):
        """Belt travel (px) by time t; the speed varies by +-speed_var around its mean over SPEED_PERIOD."""
        w = 2 * np.pi / SPEED_PERIOD
        return speed * (t + a.speed_var * (1 - np.cos(w * t)) / w)

    def when(d):
        """The time the belt has travelled d px (travel is monotonic: bisection)."""
        lo, hi = 0.0, d / (speed * (1 - a.speed_var)) + 1
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if travelled(mid) < d else (lo, mid)
        return hi

    light_step = [float(v) for v in a.light_step.split(":")] if a.light_step else None

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
        # Slot k's leading edge reaches x=0 once the belt has travelled k*spacing; the novel object takes the slot
        # nearest its time. Fully in view (video time) from when its trailing edge passes x=0 until its leading
        # edge reaches x=W.
        n["slot"] = int(round(travelled(n["enter"] + preroll) / spacing))
        own = n.get("px", n["scale"] * size)
        # Items lying between boxes ride half a slot behind their box's centre.
        behind = spacing / 2 if n["kind"] in ("screw", "washer") else 0
        n["start"] = when(n["slot"] * spacing + size / 2 + behind + own / 2) - preroll
        n["end"] = when(n["slot"] * spacing + size / 2 + behind + W - own / 2) - preroll
    by_slot = {n["slot"]: n for n in novels}
    noise = [rng0.normal(0, a.noise, (H, W, 3)).astype(np.float32) for _ in range(31)] if a.noise > 0 else None
    plain = not (a.noise or a.light_drift or light_step or a.shake)
    for f in range(frames):
        t = f / fps + preroll
        d = travelled(t)
        img = base.copy()
        # Belt with stripes moving at belt speed, so the background is never static.
        offset = d % stripe_period
        stripes = ((xx[belt_top:belt_bottom] + (-offset)) % stripe_period) < stripe_period * 0.14
        img[belt_top:belt_bottom] = BELT
        img[belt_top:belt_bottom][stripes] = STRIPE
        # Boxes: slot k's leading edge at x = d - k*spacing.
        k0 = int((d - W - size) // spacing)
        for k in range(max(k0, 0), int(d // spacing) + 1):
            x0 = d - k * spacing - size
            if x0 > W or x0 + size < 0:
                continue
            novel = by_slot.get(k)
            # Small per-object jitter in position and shade, like real parts on a real belt.
            rng = np.random.default_rng(k)
            dy = int(rng.integers(-H // 40, H // 40 + 1))
            shade = 1 + rng.uniform(-0.08, 0.08)
            if novel is None and a.gaps and rng.uniform() < a.gaps:
                continue
            box = BOX
            if drift is not None:
                # A box's colour is fixed by when it entered the view, so each object keeps one colour.
                enter_time = when(k * spacing)
                w = np.clip((enter_time - preroll - a.drift_start) / max(drift_end - a.drift_start, 1e-9), 0, 1)
                box = (1 - w) * BOX + w * drift
            look = {"scale": 1 + rng.uniform(-a.size_var, a.size_var) if a.size_var else 1.0,
                    "hue": rng.uniform(-a.hue_var, a.hue_var) if a.hue_var else 0.0,
                    "angle": np.radians(rng.uniform(-a.rotation, a.rotation)) if a.rotation else 0.0}
            if novel is not None and "px" in novel:
                draw(img, None, x0, cy + dy, size, shade, xx, yy, box, **look)
                draw_small(img, novel, x0 + size / 2, cy + dy, size, spacing, xx, yy)
            else:
                draw(img, novel, x0, cy + dy, size, shade, xx, yy, box, **look)
        if not plain:
            light = 1 + a.light_drift * np.sin(2 * np.pi * (t - preroll) / LIGHT_PERIOD)
            if light_step and t - preroll >= light_step[0]:
                light *= light_step[1]
            out = img.astype(np.float32) * light
            if noise is not None:
                out += noise[int(rng0.integers(len(noise)))]
            if a.shake:
                out = np.roll(out, (int(rng0.integers(-a.shake, a.shake + 1)), int(rng0.integers(-a.shake, a.shake + 1))),
                              axis=(0, 1))
            img = np.clip(out, 0, 255).astype(np.uint8)
        ff.stdin.write(img.tobytes())
    ff.stdin.close()
    if ff.wait() != 0:
        sys.exit("make_demo_video: ffmpeg failed")
    truth = {"video": a.out, "width": W, "height": H, "fps": fps, "seconds": a.seconds,
             "drift": None if drift is None else {"colour": drift.tolist(), "start": a.drift_start, "end": drift_end},
             "light_step": light_step,
             "belt": [belt_top, belt_bottom],
             "novel": [{"kind": n["kind"], "colour": list(n["colour"]), "scale": round(n["scale"], 3),
                        **({"px": round(n["px"], 1)} if "px" in n else {}),
                        "start": round(n["start"], 3), "end": round(n["end"], 3)} for n in novels]}
    if a.truth:
        with open(a.truth, "w") as fh:
            json.dump(truth, fh, indent=2)
    print(json.dumps(truth))


def draw(img, novel, x0, cy, size, shade, xx, yy, box=BOX, scale=1.0, hue=0.0, angle=0.0):
    H, W, _ = img.shape
    cx = x0 + size / 2                       # every object is centred in its belt slot
    if novel is None:
        colour = np.clip(rotate_hue(box, hue) * shade, 0, 255)
        if scale == 1.0 and angle == 0.0:
            xa, xb = max(int(x0), 0), min(int(x0 + size), W)
            ya, yb = max(cy - size // 2, 0), min(cy + size // 2, H)
            if xa >= xb:
                return
            img[ya:yb, xa:xb] = colour.astype(np.uint8)
            # A darker label stripe: the normal part has some structure of its own.
            img[ya + size // 3:ya + size // 3 + size // 8, xa:xb] = (colour * 0.6).astype(np.uint8)
            return
        s = size * scale
        half = int(np.ceil(s * 0.71)) + 1      # the rotated square's reach
        xa, xb = max(int(cx) - half, 0), min(int(cx) + half, W)
        ya, yb = max(cy - half, 0), min(cy + half, H)
        if xa >= xb:
            return
        # Object coordinates (u across, v down the box) of every pixel near it.
        dx, dy = xx[ya:yb, xa:xb] - cx, yy[ya:yb, xa:xb] - cy
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        inside = (np.abs(u) <= s / 2) & (np.abs(v) <= s / 2)
        label = inside & (v >= -s / 2 + s / 3) & (v < -s / 2 + s / 3 + s / 8)
        region = img[ya:yb, xa:xb]
        region[inside] = colour.astype(np.uint8)
        region[label] = (colour * 0.6).astype(np.uint8)
        return
    s = size * novel.get("scale", 1.0)
    xa, xb = max(int(cx - s / 2), 0), min(int(cx + s / 2), W)
    ya, yb = max(int(cy - s / 2), 0), min(int(cy + s / 2), H)
    if xa >= xb:
        return
    colour = np.array(novel["colour"], dtype=np.float32) * shade
    sx, sy = xx[ya:yb, xa:xb], yy[ya:yb, xa:xb]
    if novel["kind"] == "disc":
        mask = (sx - cx) ** 2 + (sy - cy) ** 2 <= (s / 2) ** 2
    elif novel["kind"] == "cross":
        arm = s / 6
        mask = (np.abs(sx - cx) <= arm) | (np.abs(sy - cy) <= arm)
    else:
        # Triangle pointing up: inside when below both slanted edges.
        rel = (sy - (cy - s / 2)) / s
        mask = np.abs(sx - cx) <= rel * s / 2
    region = img[ya:yb, xa:xb]
    region[mask] = np.clip(colour, 0, 255).astype(np.uint8)


def draw_small(img, novel, cx, cy, size, spacing, xx, yy):
    """A small defect of `novel["px"]` pixels: a screw (a thin metal rod, tilted) or a washer (a ring) on the belt
    half a slot behind the box centred at (cx, cy), or a chip: a notch of belt colour out of the box's top edge."""
    H, W, _ = img.shape
    s = novel["px"]
    if novel["kind"] == "chip":
        x, y = cx, cy - size // 2                 # the notch's apex points into the box from its top edge
    else:
        x, y = cx - spacing / 2, cy
    half = int(s) + 2
    xa, xb, ya, yb = max(int(x) - half, 0), min(int(x) + half, W), max(int(y) - half, 0), min(int(y) + half, H)
    if xa >= xb or ya >= yb:
        return
    dx, dy = xx[ya:yb, xa:xb] - x, yy[ya:yb, xa:xb] - y
    if novel["kind"] == "screw":
        u, v = dx * np.cos(0.5) + dy * np.sin(0.5), -dx * np.sin(0.5) + dy * np.cos(0.5)
        mask = (np.abs(u) <= s / 2) & (np.abs(v) <= max(s / 10, 2))
    elif novel["kind"] == "washer":
        r2 = dx ** 2 + dy ** 2
        mask = (r2 <= (s / 2) ** 2) & (r2 >= (s / 5) ** 2)
    else:
        mask = (dy >= 0) & (dy <= s / 2) & (np.abs(dx) <= s / 2 - dy)
    img[ya:yb, xa:xb][mask] = np.array(novel["colour"], dtype=np.uint8)


def rotate_hue(rgb, radians):
    """Rotates a colour's hue about the grey axis (Rodrigues' rotation), keeping its brightness."""
    if radians == 0:
        return rgb
    k = np.ones(3, dtype=np.float32) / np.sqrt(3)
    c, s = np.cos(radians), np.sin(radians)
    return rgb * c + np.cross(k, rgb) * s + k * np.dot(k, rgb) * (1 - c)


if __name__ == "__main__":
    main()
