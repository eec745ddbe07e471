"""Episodes and the last status from a subscriber's messages.jsonl (subscribe.py), for the false-alarm benchmarks."""
import json


def read(path):
    """{episode id: {start, end (video seconds), peak (score), surprise (peak raw score)}}, and the last status."""
    episodes, status = {}, None
    for line in open(path):
        msg = json.loads(line)
        schema = msg.get("schema", "")
        if schema.startswith("anomalyd.status"):
            status = msg
        if not schema.startswith("anomalyd.event"):
            continue
        e = episodes.setdefault(msg["id"], {"peak": 0, "surprise": 0})
        pts = msg["frame"]["pts_seconds"]
        e.setdefault("start", pts)
        e["end"] = pts
        e["peak"] = max(e["peak"], msg["peak_score"])
        e["surprise"] = max(e["surprise"], msg["raw_score"])
    return episodes, status
