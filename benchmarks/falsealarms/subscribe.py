#!/usr/bin/env python3
"""A pyzmq subscriber for the false-alarm benchmarks: prints every anomaly/ message's JSON, one line each, and
writes each new episode's evidence JPEG into OUT. Stops cleanly on SIGINT.

  subscribe.py PORT OUT > messages.jsonl
"""
import json
import signal
import sys

import zmq

port, out = sys.argv[1], sys.argv[2]
sub = zmq.Context().socket(zmq.SUB)
sub.connect(f"tcp://127.0.0.1:{port}")
sub.subscribe(b"anomaly/")
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    parts = sub.recv_multipart()
    msg = json.loads(parts[1])
    if len(parts) == 3 and msg.get("type") == "new":
        open(f"{out}/{msg['id']}.jpg", "wb").write(parts[2])
    print(json.dumps(msg), flush=True)
