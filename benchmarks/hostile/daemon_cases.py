#!/usr/bin/env python3
"""Long kept cases of issue 14 that need a daemon of their own (peers.py attacks one running daemon).

    daemon_cases.py BIN TEACHER CLIP OUTDIR [bigconfig|servers|diskfull ...]

bigconfig: `anomalyd check` on 50 MB configuration files (one long comment; 200,000 pipelines; one 50 MB string):
           exit status, seconds and peak RSS of each.
servers:   one daemon running three pipelines: a fake RTSP server answering garbage, one that accepts and stays
           silent, and a healthy file pipeline; whether the healthy one learnt and detected, the others' reconnects,
           RSS and descriptors, the exit status after SIGTERM.
diskfull:  the state_dir on an 8 MB tmpfs (mount -t tmpfs, needs root) filled but for 512 KiB: learning fails when
           the model is saved (ENOSPC), the pipeline fails and is restarted with back-off; after three failures the
           filler is removed and the next attempt saves. Reports, from the failing write (strace -Z) and the daemon's
           log lines (stamped as read), the time from the stage failure to the supervisor's log and to the restarted
           pipeline's start, per failure; whether anything was left in the state_dir; RSS.

Prints one JSON line per case.
"""
import json, os, re, signal, socket, subprocess, sys, threading, time

BIN, TEACHER, CLIP, OUT = sys.argv[1:5]
cases = sys.argv[5:] or ["bigconfig", "servers", "diskfull"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return 0


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Daemon:
    """`anomalyd run` with each stderr line stamped (wall clock) as it is read."""

    def __init__(self, config):
        self.process = subprocess.Popen([BIN, "run", "--config", config], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines, self.peak_rss = [], 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append((time.time(), line.rstrip("\n")))

    def _sample(self):
        while self.process.poll() is None:
            self.peak_rss = max(self.peak_rss, rss_mb(self.process.pid))
            time.sleep(0.2)

    def wait_for(self, text, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if sum(text in l for _, l in self.lines) >= count:
                return True
            time.sleep(0.1)
        return sum(text in l for _, l in self.lines) >= count

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return "hung after SIGTERM"
        return self.process.returncode


def timed_check(path):
    started = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", BIN, "check", "--config", path], capture_output=True, text=True)
    peak_kib = int(r.stderr.strip().splitlines()[-1]) if r.stderr.strip().splitlines()[-1].isdigit() else 0
    message = next((l for l in r.stderr.splitlines() if l and not l.isdigit()), "")
    return {"exit": r.returncode, "seconds": round(time.monotonic() - started, 2), "peak_rss_mb": peak_kib // 1024,
            "message": message[:160]}


def bigconfig():
    size = 50 << 20
    head = f"pipelines:\n  cam: {{source: {CLIP}, teacher: {TEACHER}, state_dir: {OUT}/big-state}}\n"
    files = {}
    path = os.path.join(OUT, "big-comment.yaml")
    with open(path, "w") as f:
        f.write(head)
        line = "# " + "x" * 1022 + "\n"
        for _ in range(size // len(line)):
            f.write(line)
    files["one long comment"] = path
    path = os.path.join(OUT, "big-pipelines.yaml")
    with open(path, "w") as f:
        f.write("pipelines:\n")
        i = 0
        while f.tell() < size:
            f.write(f"  cam{i:06d}: {{source: /srv/cam{i:06d}.mp4, state_dir: /srv/state/{i:06d}, sample_fps: 5}}\n")
            i += 1
    files[f"{i} pipelines"] = path
    path = os.path.join(OUT, "big-string.yaml")
    with open(path, "w") as f:
        f.write(f"pipelines:\n  cam: {{source: \"{'s' * size}\"}}\n")
    files["one 50 MB string"] = path
    results = {name: timed_check(p) for name, p in files.items()}
    for p in files.values():
        os.remove(p)
    return {"case": "bigconfig", "bytes": size, **results}


class FakeServer(threading.Thread):
    """A TCP server on loopback: `reply` bytes for every read, or silence."""

    def __init__(self, reply):
        super().__init__(daemon=True)
        self.reply, self.sock = reply, socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port, self.accepted = self.sock.getsockname()[1], 0
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(30)
        try:
            while conn.recv(65536):
                if self.reply:
                    conn.sendall(self.reply)
        except OSError:
            pass
        conn.close()


def servers():
    garbage, silent = FakeServer(os.urandom(65536)), FakeServer(None)
    state = os.path.join(OUT, "servers-state")
    config = os.path.join(OUT, "servers.yaml")
    with open(config, "w") as f:
        f.write(f"""publisher: {{endpoint: "tcp://127.0.0.1:{free_port()}", heartbeat_s: 1}}
defaults:
  teacher: {TEACHER}
  sample_fps: 10
  stall_timeout_s: 2
  learning: {{frames: 40}}
  detector: {{student_depth: 1, epochs: 1}}
pipelines:
  garbage: {{source: "rtsp://127.0.0.1:{garbage.port}/cam", state_dir: {state}/garbage}}
  silent: {{source: "rtsp://127.0.0.1:{silent.port}/cam", state_dir: {state}/silent}}
  healthy: {{source: {CLIP}, loop: true, realtime: true, state_dir: {state}/healthy}}
""")
    daemon = Daemon(config)
    learnt = daemon.wait_for("learning done", timeout=180)
    time.sleep(10)
    pid = daemon.process.pid
    result = {"case": "servers", "healthy_learnt_and_detecting": learnt, "daemon_alive": daemon.process.poll() is None,
              "garbage_server_connections": garbage.accepted, "silent_server_connections": silent.accepted,
              "rss_mb": round(rss_mb(pid)), "rss_mb_peak": round(daemon.peak_rss), "fds": fds(pid),
              "pipeline_failures": sum("pipeline failed" in l for _, l in daemon.lines)}
    result["exit_after_sigterm"] = daemon.stop()
    garbage.sock.close()
    silent.sock.close()
    return result


def diskfull():
    mount = os.path.join(OUT, "tmpfs")
    os.makedirs(mount, exist_ok=True)
    subprocess.run(["umount", mount], capture_output=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount], check=True)
    try:
        filler = os.path.join(mount, "filler")
        stat = os.statvfs(mount)
        with open(filler, "wb") as f:
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize - (512 << 10)))
        config = os.path.join(OUT, "diskfull.yaml")
        with open(config, "w") as f:
            f.write(f"""publisher: {{endpoint: "tcp://127.0.0.1:{free_port()}"}}
pipelines:
  cam:
    source: {CLIP}
    loop: true
    teacher: {TEACHER}
    state_dir: {mount}/state
    learning: {{frames: 40}}
    detector: {{student_depth: 1, epochs: 1}}
""")
        daemon = Daemon(config)
        trace = os.path.join(OUT, "diskfull.strace")
        tracer = subprocess.Popen(["strace", "-f", "-tt", "-Z", "-e", "trace=write,pwrite64,writev,openat,mkdir,mkdirat",
                                   "-o", trace, "-p", str(daemon.process.pid)], stderr=subprocess.DEVNULL)
        failed = daemon.wait_for("pipeline failed; restarting", count=3, timeout=240)
        os.remove(filler)
        recovered = daemon.wait_for("learning done", timeout=240)
        tracer.send_signal(signal.SIGINT)
        tracer.wait()
        # Wall-clock times of the failing writes (ENOSPC), the supervisor's failure lines and the pipeline starts.
        enospc = []
        day = time.strftime("%Y-%m-%d")
        for line in open(trace):
            m = re.match(r"\d+\s+(\d\d:\d\d:\d\d\.\d+) .*ENOSPC", line)
            if m:
                enospc.append(time.mktime(time.strptime(day + " " + m.group(1)[:8], "%Y-%m-%d %H:%M:%S"))
                              + float("0." + m.group(1).split(".")[1]))
        fails = [t for t, l in daemon.lines if "pipeline failed; restarting" in l]
        starts = [t for t, l in daemon.lines if "pipeline started" in l]
        restarts = []
        for t in fails:
            fault = max((e for e in enospc if e <= t), default=None)
            start = min((s for s in starts if s > t), default=None)
            restarts.append({"fault_to_failure_logged_ms": round((t - fault) * 1000, 1) if fault else None,
                             "failure_logged_to_restart_s": round(start - t, 3) if start else None,
                             "fault_to_restart_s": round(start - fault, 3) if start and fault else None})
        leftovers = sorted(n for n in os.listdir(os.path.join(mount, "state", "models")) if ".tmp-" in n) \
            if os.path.isdir(os.path.join(mount, "state", "models")) else []
        result = {"case": "diskfull", "tmpfs_mb": 8, "free_kib_at_start": 512, "failures_before_space_freed": len(fails),
                  "failed_three_times": failed, "saved_after_space_freed": recovered, "restarts": restarts,
                  "staging_leftovers": leftovers, "rss_mb_peak": round(daemon.peak_rss),
                  "errors": sorted({l[l.find("error="):][:160] for _, l in daemon.lines if "pipeline failed" in l})}
        result["exit_after_sigterm"] = daemon.stop()
        return result
    finally:
        subprocess.run(["umount", mount], capture_output=True)


for case in cases:
    print(json.dumps({"bigconfig": bigconfig, "servers": servers, "diskfull": diskfull}[case]()), flush=True)
