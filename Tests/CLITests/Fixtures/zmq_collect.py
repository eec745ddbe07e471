#!/usr/bin/python3
"""A real ZeroMQ subscriber for the end-to-end tests (pyzmq from Debian's python3-zmq).

    zmq_collect.py ENDPOINT OUT.jsonl [PREFIX [SERVER.pub CLIENT.key]]

Writes one line per message: {"topic": ..., "parts": N, "message": <the JSON payload>, "raw": <its text as sent>},
flushed at once, and runs until SIGTERM. Prints READY once subscribed. With key files (Z85 text, as `anomalyd keygen` writes them) it is a
CURVE client of the server with that public key.
"""
import json
import signal
import sys

import zmq

endpoint, out = sys.argv[1], sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else "anomaly/"
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sub = zmq.Context.instance().socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
if len(sys.argv) > 5:
    secret = open(sys.argv[5]).read().strip().encode()
    sub.curve_serverkey = open(sys.argv[4]).read().strip().encode()
    sub.curve_secretkey = secret
    sub.curve_publickey = zmq.curve_public(secret)
sub.connect(endpoint)
sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
print("READY", flush=True)
with open(out, "w") as f:
    while True:
        parts = sub.recv_multipart()
        f.write(json.dumps({"topic": parts[0].decode(), "parts": len(parts), "message": json.loads(parts[1]),
                            "raw": parts[1].decode()}) + "\n")
        f.flush()
