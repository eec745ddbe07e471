#!/usr/bin/python3
"""A hostile ZeroMQ peer for the tests: a raw ZMTP 3.0 SUB that declares one huge frame.

    zmtp_frame.py HOST PORT DECLARED_BYTES SENT_BYTES

Does the NULL handshake, then sends a message frame header declaring DECLARED_BYTES and SENT_BYTES of its body.
Prints CLOSED when the server drops the connection within 5 s of that, OPEN when it keeps it (and keeps reading).
"""
import socket
import struct
import sys
import time

host, port, declared, body = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection((host, port), timeout=5)
try:
    # Greeting: signature, version 3.0, mechanism NULL, as-server 0, filler.
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32)
    ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    s.sendall(bytes([0x04, len(ready)]) + ready)
    # A long message frame (flags 0x02, 8-byte size), then part of its body.
    s.sendall(b"\x02" + struct.pack(">Q", declared))
    sent = 0
    while sent < body:
        sent += s.send(b"\x00" * min(65536, body - sent))
    # The server's greeting, READY and perhaps heartbeats, then the end of the stream once it drops us.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not s.recv(65536):
            print("CLOSED")
            break
    else:
        print("OPEN")
except (ConnectionResetError, BrokenPipeError):
    print("CLOSED")
except socket.timeout:
    print("OPEN")
