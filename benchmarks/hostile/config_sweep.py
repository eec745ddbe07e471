#!/usr/bin/env python3
"""check and run agree on every config input (issue 14): each numeric field of config_edges.txt at its minimum and
at its maximum on its own, and strings at their longest and in Unicode, checked with `anomalyd check` and then run
with `anomalyd run` on a looping short clip for BUDGET_S seconds (then SIGTERM). One line per case: whether check
accepted it, how the run ended (by itself, by SIGTERM, by a signal = crash), its exit status, peak RSS and open
descriptors, and the first pipeline failure it logged (a failure is a disagreement: check accepted what the
pipeline cannot use). Usage: config_sweep.py BIN CLIP TEACHER OUTDIR [FIELD ...]"""
import json, os, shutil, signal, socket, subprocess, sys, time

BIN, CLIP, TEACHER, OUT = sys.argv[1:5]
ONLY = set(sys.argv[5:])
BUDGET = float(os.environ.get("BUDGET_S", "12"))
HERE = os.path.dirname(os.path.abspath(__file__))

def edges():
    for line in open(os.path.join(HERE, "config_edges.txt")):
        if line.strip() and not line.startswith("#"):
            section, key, lo, hi = line.split()
            yield section, key, lo, hi

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def config(name, source, state, overrides):
    """overrides: {(section, key): value}; the base learns quickly so the value is exercised while detecting too."""
    sections = {"learning": {"frames": "40"}, "detector": {"student_depth": "1", "epochs": "1"}, "refit": {"enabled": "true"}}
    publisher = {"endpoint": f'"tcp://127.0.0.1:{free_port()}"'}
    top = {"source": json.dumps(source, ensure_ascii=False), "loop": "true", "teacher": TEACHER,
           "state_dir": json.dumps(state, ensure_ascii=False)}
    for (section, key), value in overrides.items():
        target = publisher if section == "publisher" else top if section == "pipeline" else sections.setdefault(section, {})
        target[key] = value
    inline = lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) + "}"
    lines = [f"publisher: {inline(publisher)}", "pipelines:", f"  {name}:"]
    lines += [f"    {k}: {v}" for k, v in top.items()]
    lines += [f"    {s}: {inline(d)}" for s, d in sorted(sections.items())]
    return "\n".join(lines) + "\n"

def status_field(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def descriptors(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0

def run_case(label, text):
    case_dir = os.path.join(OUT, label)
    os.makedirs(case_dir, exist_ok=True)
    path = os.path.join(case_dir, "config.yaml")
    open(path, "w").write(text)
    check = subprocess.run([BIN, "check", "--config", path], capture_output=True, text=True)
    if check.returncode != 0:
        return {"case": label, "check": check.returncode, "error": check.stderr.strip().splitlines()[-1][:200]}
    log_path = os.path.join(case_dir, "daemon.log")
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([BIN, "run", "--config", path], stdout=log, stderr=log)
    started = time.monotonic()
    peak_rss = peak_fds = 0
    while daemon.poll() is None and time.monotonic() - started < BUDGET:
        peak_rss = max(peak_rss, status_field(daemon.pid, "VmRSS"))
        peak_fds = max(peak_fds, descriptors(daemon.pid))
        time.sleep(0.2)
    ended = "itself" if daemon.poll() is not None else "SIGTERM"
    if ended == "SIGTERM":
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            ended = "hung after SIGTERM"
            daemon.kill()
            daemon.wait()
    code = daemon.returncode
    text = open(log_path, errors="replace").read()
    failure = next((l for l in text.splitlines() if "pipeline failed" in l), None)
    if code < 0 and ended != "hung after SIGTERM":
        ended = f"signal {-code} (crash)"
    result = {"case": label, "check": 0, "ended": ended, "exit": code, "seconds": round(time.monotonic() - started, 1),
              "peak_rss_mib": peak_rss // 1024, "peak_fds": peak_fds, "learnt": "learning done" in text}
    if failure:
        result["pipeline_failed"] = failure[failure.find("error="):][:240]
    if "Fatal error" in text:
        result["fatal"] = next(l for l in text.splitlines() if "Fatal error" in l)[:240]
    shutil.rmtree(os.path.join(case_dir, "state"), ignore_errors=True)
    return result

def main():
    os.makedirs(OUT, exist_ok=True)
    bad = 0
    for section, key, lo, hi in edges():
        if ONLY and key not in ONLY and f"{section}.{key}" not in ONLY:
            continue
        for which, value in (("min", lo), ("max", hi)):
            label = f"{section}.{key}={value}"
            r = run_case(label.replace("/", "_"), config("cam", CLIP, os.path.join(OUT, label, "state"), {(section, key): value}))
            r["case"] = f"{section}.{key} {which} {value}"
            bad += r.get("exit", 0) != 0 or "fatal" in r or "pipeline_failed" in r or r.get("check", 0) != 0
            print(json.dumps(r), flush=True)
    if not ONLY or "strings" in ONLY:
        unicode_clip = os.path.join(OUT, "Förderband 🎥 ライン.mp4")
        shutil.copyfile(CLIP, unicode_clip)
        state = os.path.join(OUT, "strings", "state")
        while len((state + "/" + "é" * 100).encode()) <= 3840:   # the longest state_dir check accepts
            state += "/" + "é" * 100
        state += "/" + "x" * (3840 - 1 - len(state.encode()))
        r = run_case("strings", config("a" * 48 + "-0123456789_xyz", unicode_clip, state, {}))
        r["case"] = "strings: 63-byte name, Unicode source path, 3840-byte Unicode state_dir"
        bad += r.get("exit", 0) != 0 or "fatal" in r or "pipeline_failed" in r or r.get("check", 0) != 0
        print(json.dumps(r), flush=True)
    print(json.dumps({"cases_with_a_problem": bad}))

main()
