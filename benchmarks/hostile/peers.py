#!/usr/bin/python3
"""Hostile peers against a running anomalyd, on loopback, each case bounded in size and time (issue 14).

    peers.py PID PUBLISHER_PORT METRICS_PORT [idle|flood|frame|churn|garbage|sighup ...]

idle:  IDLE_CONNECTIONS (20,000) TCP connections to the metrics port that send nothing, held HOLD_S (30) s;
       the daemon's descriptors before, at most during and after, whether and when /healthz answers, and how many
       of the idle connections the daemon closed.
flood: one ZeroMQ SUB subscribing to SUBSCRIPTIONS (300,000) distinct topics, connected from 127.0.0.2 for HOLD_S s,
       beside a normal subscriber on 127.0.0.1; the daemon's RSS before, at most during and 10 s after it left, how
       often the daemon disconnected the flooder, and what the normal subscriber got (a heartbeat every second).
frame: a raw ZMTP peer declaring a 4 GiB frame and sending up to FRAME_MB (400) MB of it; RSS before, at most
       during and after, and how much the daemon read before dropping the connection.
churn: CHURN_SUBSCRIBERS (200) subscribers that connect, subscribe, wait for a heartbeat and leave, again and again
       for HOLD_S s, beside a normal subscriber; RSS and descriptors before, at most and after, the rounds done,
       and what the normal subscriber got.
garbage: GARBAGE_PEERS (200) TCP connections to the publisher port each sending GARBAGE_BYTES (64 KiB) of random bytes, in waves for
       HOLD_S s, beside a normal subscriber; descriptors and RSS before and after, what the normal subscriber got.
sighup: SIGHUPS (200) SIGHUPs in 10 s (a reload each); the daemon is alive after, /healthz answers, RSS and
       descriptors before and after.

Prints one JSON line per case.
"""
import json
import os
import resource
import socket
import struct
import sys
import threading
import time
import urllib.request

import zmq

pid, pub_port, http_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cases = sys.argv[4:] or ["idle", "flood", "frame", "churn", "garbage", "sighup"]
HOLD = float(os.environ.get("HOLD_S", "30"))


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024


def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))


def healthz(timeout):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=timeout) as r:
            return r.status, round(time.monotonic() - started, 2)
    except Exception as e:
        return repr(e), round(time.monotonic() - started, 2)


class Sampler(threading.Thread):
    """Samples a value every 0.2 s until stopped; keeps the largest."""

    def __init__(self, measure):
        super().__init__(daemon=True)
        self.measure, self.most, self.running = measure, measure(), True
        self.start()

    def run(self):
        while self.running:
            self.most = max(self.most, self.measure())
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.join()
        return self.most


def idle():
    wanted = int(os.environ.get("IDLE_CONNECTIONS", "20000"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(wanted, hard - 100)
    before, health_before = fds(), healthz(5)
    sampler = Sampler(fds)
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", http_port))  # EINPROGRESS: the kernel completes it, or retries while the backlog is full
        socks.append(s)
    opened = time.monotonic()
    answer = {}
    asker = threading.Thread(target=lambda: answer.update(during=healthz(HOLD + 30)))
    asker.start()
    time.sleep(HOLD)
    asker.join()
    most = sampler.stop()
    closed = pending = 0
    for s in socks:
        try:
            s.getpeername()
        except OSError:
            pending += 1  # still waiting for the backlog, or given up
            s.close()
            continue
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
        s.close()
    time.sleep(3)
    return {"case": "idle", "connections": count, "held_s": round(time.monotonic() - opened, 1), "fds_before": before,
            "fds_most": most, "fds_after": fds(), "healthz_before": health_before, "healthz_during": answer.get("during"),
            "closed_by_daemon": closed, "never_connected": pending, "healthz_after": healthz(10)}


class NormalSubscriber:
    """A well-behaved subscriber beside the attack, on its own thread: `got` is the seq of every message it
    received. Started 3 s before the attack so it is subscribed; `end()` stops it."""

    def __init__(self, ctx):
        self.got, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._receive, args=(ctx,))
        self._thread.start()
        time.sleep(3)

    def _receive(self, ctx):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(f"tcp://127.0.0.1:{pub_port}")
        sub.setsockopt(zmq.SUBSCRIBE, b"anomaly/")
        while not self._stop.is_set():
            if sub.poll(100):
                message = json.loads(sub.recv_multipart()[1])
                self.got.append(message.get("seq", 0))
        sub.close()

    def end(self):
        self._stop.set()
        self._thread.join()


def gaps(seqs):
    return sum(b - a - 1 for a, b in zip(seqs, seqs[1:]) if b > a + 1)


def flood():
    count = int(os.environ.get("SUBSCRIPTIONS", "300000"))
    ctx = zmq.Context()
    normal = NormalSubscriber(ctx)
    got = normal.got
    before, heard_before = rss_mb(), len(got)
    sampler = Sampler(rss_mb)
    flooder = ctx.socket(zmq.SUB)
    flooder.setsockopt(zmq.SNDHWM, 0)  # queue every subscription rather than drop those past the HWM
    flooder.setsockopt(zmq.LINGER, 0)
    drops = flooder.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    # From 127.0.0.2, another peer address than the normal subscriber's.
    flooder.connect(f"tcp://127.0.0.2:0;127.0.0.1:{pub_port}")
    started = time.monotonic()
    for i in range(count):
        flooder.setsockopt(zmq.SUBSCRIBE, b"anomaly/flood-%07d/" % i)
    subscribed_s = time.monotonic() - started
    time.sleep(max(0, HOLD - subscribed_s))
    heard_during = len(got) - heard_before
    disconnected = 0
    while drops.poll(0):
        drops.recv_multipart()
        disconnected += 1
    flooder.disable_monitor()
    drops.close()
    flooder.close()
    time.sleep(10)
    most = sampler.stop()
    normal.end()
    return {"case": "flood", "subscriptions": count, "subscribed_in_s": round(subscribed_s, 1),
            "rss_mb_before": round(before, 1), "rss_mb_most": round(most, 1), "rss_mb_after": round(rss_mb(), 1),
            "flooder_disconnected_times": disconnected, "normal_subscriber_messages_during": heard_during,
            "normal_subscriber_seq_gaps": gaps(got),
            "healthz_after": healthz(10)}


def frame():
    limit = int(os.environ.get("FRAME_MB", "400")) << 20
    before = rss_mb()
    sampler = Sampler(rss_mb)
    s = socket.create_connection(("127.0.0.1", pub_port), timeout=5)
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32)
    ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    s.sendall(bytes([0x04, len(ready)]) + ready)
    sent, outcome = 0, "kept open"
    deadline = time.monotonic() + HOLD
    chunk = b"\x00" * 65536
    try:
        s.sendall(b"\x02" + struct.pack(">Q", 4 << 30))
        while sent < limit and time.monotonic() < deadline:
            sent += s.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        outcome = "dropped"
    except socket.timeout:
        outcome = "stalled"
    if outcome == "kept open":
        s.settimeout(3)
        try:
            while s.recv(65536):
                pass
            outcome = "dropped"
        except socket.timeout:
            pass
        except ConnectionResetError:
            outcome = "dropped"
    s.close()
    time.sleep(5)
    most = sampler.stop()
    return {"case": "frame", "declared_gib": 4, "sent_mb": round(sent / (1 << 20), 1), "connection": outcome,
            "rss_mb_before": round(before, 1), "rss_mb_most": round(most, 1), "rss_mb_after": round(rss_mb(), 1)}


def churn():
    count = int(os.environ.get("CHURN_SUBSCRIBERS", "200"))
    ctx = zmq.Context()
    normal = NormalSubscriber(ctx)
    got = normal.got
    before_rss, before_fds, heard_before = rss_mb(), fds(), len(got)
    rss, most_fds = Sampler(rss_mb), Sampler(fds)
    rounds, heard, deadline = 0, 0, time.monotonic() + HOLD
    while time.monotonic() < deadline:
        subs = []
        for _ in range(count):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.connect(f"tcp://127.0.0.1:{pub_port}")
            sub.setsockopt(zmq.SUBSCRIBE, b"anomaly/")
            subs.append(sub)
        poller = zmq.Poller()
        for sub in subs:
            poller.register(sub, zmq.POLLIN)
        heard += len(poller.poll(2500))
        for sub in subs:
            sub.close()
        rounds += 1
    time.sleep(5)
    heard_during = len(got) - heard_before
    normal.end()
    return {"case": "churn", "subscribers": count, "rounds": rounds, "connections": rounds * count,
            "churners_that_heard_a_message": heard, "rss_mb_before": round(before_rss, 1), "rss_mb_most": round(rss.stop(), 1),
            "rss_mb_after": round(rss_mb(), 1), "fds_before": before_fds, "fds_most": most_fds.stop(), "fds_after": fds(),
            "normal_subscriber_messages_during": heard_during, "normal_subscriber_seq_gaps": gaps(got),
            "healthz_after": healthz(10)}


def garbage():
    count = int(os.environ.get("GARBAGE_PEERS", "200"))
    ctx = zmq.Context()
    normal = NormalSubscriber(ctx)
    got = normal.got
    before_rss, before_fds, heard_before = rss_mb(), fds(), len(got)
    rss = Sampler(rss_mb)
    junk = os.urandom(int(os.environ.get("GARBAGE_BYTES", "65536")))
    waves, refused, deadline = 0, 0, time.monotonic() + HOLD
    while time.monotonic() < deadline:
        socks = []
        for _ in range(count):
            try:
                s = socket.create_connection(("127.0.0.1", pub_port), timeout=2)
                s.settimeout(0.5)
                s.sendall(junk)
            except OSError:
                refused += 1
                continue
            socks.append(s)
        for s in socks:
            s.close()
        waves += 1
    time.sleep(5)
    heard_during = len(got) - heard_before
    normal.end()
    return {"case": "garbage", "peers_per_wave": count, "waves": waves, "bytes_each": len(junk),
            "connections_cut_by_daemon_while_sending": refused, "rss_mb_before": round(before_rss, 1),
            "rss_mb_most": round(rss.stop(), 1), "rss_mb_after": round(rss_mb(), 1), "fds_before": before_fds,
            "fds_after": fds(), "normal_subscriber_messages_during": heard_during,
            "normal_subscriber_seq_gaps": gaps(got), "healthz_after": healthz(10)}


def sighup():
    import signal
    count = int(os.environ.get("SIGHUPS", "200"))
    before_rss, before_fds = rss_mb(), fds()
    started = time.monotonic()
    for _ in range(count):
        os.kill(pid, signal.SIGHUP)
        time.sleep(10 / count)
    time.sleep(5)
    alive = os.path.exists(f"/proc/{pid}")
    return {"case": "sighup", "signals": count, "in_s": round(time.monotonic() - started - 5, 1), "alive": alive,
            "rss_mb_before": round(before_rss, 1), "rss_mb_after": round(rss_mb(), 1) if alive else None,
            "fds_before": before_fds, "fds_after": fds() if alive else None, "healthz_after": healthz(10)}


for case in cases:
    print(json.dumps({"idle": idle, "flood": flood, "frame": frame, "churn": churn, "garbage": garbage,
                      "sighup": sighup}[case]()), flush=True)
