"""Checks of a Chrome trace-event JSON file, written independently of the
tracer (gdbstub/kernelaware/schedtrace.py) so that the tests do not trust the code they
test.  Format: the Trace Event Format document (Google), as read by
chrome://tracing and Perfetto: "M" metadata, "X" complete slices (ts, dur),
"i" instants (s = t|p|g), "s"/"t"/"f" flow events (id; bp "e" binds to the
enclosing slice)."""

import json
from collections import defaultdict

REQUIRED = {
    "M": ("name", "ph", "pid", "args"),
    "X": ("name", "ph", "pid", "tid", "ts", "dur"),
    "i": ("name", "ph", "pid", "tid", "ts", "s"),
    "s": ("name", "ph", "pid", "tid", "ts", "id", "cat"),
    "t": ("name", "ph", "pid", "tid", "ts", "id", "cat"),
    "f": ("name", "ph", "pid", "tid", "ts", "id", "cat"),
}


def _ns(us):
    return round(us * 1000)


def load(path):
    with open(path) as f:
        return json.load(f)


def problems(trace):
    """A list of what is wrong with `trace` (a parsed JSON object)."""
    out = []
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not an object with a traceEvents list"]
    slices = defaultdict(list)
    last_ts = {}
    for k, e in enumerate(trace["traceEvents"]):
        ph = e.get("ph")
        if ph not in REQUIRED:
            out.append(f"event {k}: unexpected phase {ph!r}")
            continue
        missing = [key for key in REQUIRED[ph] if key not in e]
        if missing:
            out.append(f"event {k} ({ph}): missing {missing}")
            continue
        if ph == "M":
            continue
        if not isinstance(e["ts"], (int, float)) or e["ts"] < 0:
            out.append(f"event {k}: bad ts {e['ts']!r}")
        track = (e["pid"], e["tid"])
        if e["ts"] < last_ts.get(track, 0):
            out.append(f"event {k}: ts {e['ts']} goes back on track {track}")
        last_ts[track] = e["ts"]
        if ph == "X":
            if not isinstance(e["dur"], (int, float)) or e["dur"] < 0:
                out.append(f"event {k}: bad dur {e['dur']!r}")
            # in whole nanoseconds, as Perfetto imports microsecond floats: a
            # slice that ends where the next begins (a CPU's track) must not
            # overlap it by a float rounding (115345.8 + 27.1 > 115372.9)
            slices[track].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"]), k))
        if ph == "i" and e["s"] not in ("t", "p", "g"):
            out.append(f"event {k}: bad instant scope {e['s']!r}")
    for track, ss in slices.items():
        ss.sort()
        for (a0, a1, ka), (b0, b1, kb) in zip(ss, ss[1:]):
            if b0 < a1:
                out.append(f"slices {ka} and {kb} overlap on track {track}")
    # every instant and flow event lies inside a slice of its track
    for k, e in enumerate(trace["traceEvents"]):
        if e.get("ph") in ("i", "s", "t", "f") and "tid" in e:
            track = (e["pid"], e["tid"])
            if not any(a <= _ns(e["ts"]) <= b for a, b, _ in slices.get(track, ())):
                out.append(f"event {k} ({e['ph']} {e['name']}) at {e['ts']} is outside "
                           f"every slice of track {track}")
    return out


def thread_names(trace):
    """tid -> thread name from the metadata."""
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e.get("ph") == "M" and e.get("name") == "thread_name"}


def flows(trace):
    """flow id -> [(phase, ts, tid)] in file order."""
    out = defaultdict(list)
    for e in trace["traceEvents"]:
        if e.get("ph") in ("s", "t", "f"):
            out[e["id"]].append((e["ph"], e["ts"], e["tid"]))
    return dict(out)
