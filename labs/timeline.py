"""`kthread-lab timeline`: who ran when, drawn from a scheduling trace, offline.

The input is the Chrome trace-event JSON that `kthread-stub --trace FILE` and
`kthread-lab start N --trace FILE` write (gdbstub/kernelaware/schedtrace.py documents the
schema).  The output, drawn with matplotlib, is an SVG or PNG, or a
self-contained HTML page (the SVG inline, plus a table of the events; no
script, nothing fetched): no Perfetto or browser extension needed.

The picture has one track per task (its comm and pid) and machine time on the
x axis as the instruction count (10,000,000 instructions are one second of
machine time; the top axis gives milliseconds):
  - a bar for each interval the task ran;
  - a wake-up (wake_up_process) as a triangle on the woken task's track with a
    thin line from the task that woke it;
  - each kthread_create handshake as arrows: the requester queues the request,
    kthreadd forks it (create_kthread), the new thread starts in kthread().
With handshakes in the trace a second panel zooms in on them: a boot's
handshakes take a few tens of thousands of instructions out of millions.
"""
import html
import io
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from gdbstub.kernelaware.schedtrace import INSNS_PER_US

from . import LabError

MAX_TABLE_ROWS = 5000      # the HTML event table stops here (a long session has millions)
MAX_WAKE_LINES = 5000      # beyond this many wake-ups in view, only their markers are drawn
WAKE_COLOR = "#444444"
FLOW_COLOR = "#d62728"


@dataclass
class Timeline:
    """The parts of a trace the picture shows, in instructions (icount)."""
    tasks: List[Tuple[int, str]]                    # (tid, "comm (pid N)"), in track order
    slices: List[Tuple[int, int, int, str]]         # (tid, start, end, state it left in)
    wakes: List[Tuple[int, int, Optional[int], dict]] = field(default_factory=list)
    #         (icount, waker tid, woken tid, args)
    flows: Dict[int, List[Tuple[str, int, int]]] = field(default_factory=dict)
    #         request id -> [(phase s/t/f, icount, tid)]
    names: Dict[int, str] = field(default_factory=dict)   # request id -> requested name
    events: List[Tuple[int, int, str, str]] = field(default_factory=list)
    #         (icount, tid, event name, details) for the HTML table

    @property
    def start(self) -> int:
        return min(s for _, s, _, _ in self.slices)

    @property
    def end(self) -> int:
        return max(e for _, _, e, _ in self.slices)


def _icount(ev) -> int:
    args = ev.get("args") or {}
    if isinstance(args.get("icount"), int):
        return args["icount"]
    return round(float(ev["ts"]) * INSNS_PER_US)


def parse(trace: dict) -> Timeline:
    """A Timeline from a trace (the dict json.load gives).  Raises LabError."""
    events = trace.get("traceEvents") if isinstance(trace, dict) else None
    if not isinstance(events, list):
        raise LabError("not a Chrome trace: no traceEvents list")
    labels, order = {}, {}
    slices, wakes, flows, names, table = [], [], {}, {}, []
    try:
        for ev in events:
            ph, tid = ev.get("ph"), ev.get("tid")
            if ph == "M" and ev.get("name") == "thread_name":
                labels[tid] = str(ev["args"]["name"])
            elif ph == "M" and ev.get("name") == "thread_sort_index":
                order[tid] = ev["args"]["sort_index"]
            elif ph == "X":
                start = _icount(ev)
                end = start + round(float(ev["dur"]) * INSNS_PER_US)
                state = (ev.get("args") or {}).get("end_state", "?")
                slices.append((tid, start, end, state))
                labels.setdefault(tid, str(ev.get("name", tid)))
            elif ph == "i":
                ic, args = _icount(ev), ev.get("args") or {}
                name = str(ev.get("name"))
                if name == "wake_up_process":
                    target = args.get("target_pid")
                    wakes.append((ic, tid, None if target is None else target + 1, args))
                if name == "kthread_create" and args.get("request") is not None:
                    names[args["request"]] = args.get("name") or args.get("threadfn") or "?"
                details = ", ".join(f"{k} {v}" for k, v in args.items()
                                    if k != "icount" and v is not None)
                table.append((ic, tid, name, details))
            elif ph in ("s", "t", "f"):
                flows.setdefault(ev["id"], []).append((ph, _icount(ev), tid))
    except (KeyError, TypeError, ValueError) as e:
        raise LabError(f"malformed trace event {ev!r:.120}: {type(e).__name__} {e}") from None
    if not slices:
        raise LabError("the trace has no running slices (\"ph\": \"X\"): nothing to draw")
    tids = sorted(labels, key=lambda t: (order.get(t, t), t))
    for ic, tid, name, _ in table:          # an instant on a track with no slice yet
        if tid not in labels:
            tids.append(tid)
            labels[tid] = str(tid)
    return Timeline(tasks=[(t, labels[t]) for t in tids], slices=slices, wakes=wakes,
                    flows=flows, names=names, events=sorted(table, key=lambda r: r[0]))


def load(path) -> Timeline:
    """Read and parse a trace file.  Raises LabError with one line."""
    try:
        with open(path) as f:
            trace = json.load(f)
    except OSError as e:
        raise LabError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise LabError(f"{path} is not JSON: {e}") from None
    return parse(trace)


def handshake_window(tl: Timeline) -> Optional[Tuple[int, int]]:
    """The icount range of the kthread_create handshakes, with a margin."""
    ics = [ic for steps in tl.flows.values() for _, ic, _ in steps]
    if not ics:
        return None
    lo, hi = min(ics), max(ics)
    pad = max((hi - lo) // 20, 500)
    return max(tl.start, lo - pad), min(tl.end, hi + pad)


def _draw(ax, tl: Timeline, lo: int, hi: int, colors, rows, labels: bool) -> None:
    from matplotlib.collections import LineCollection

    for tid, _label in tl.tasks:
        bars = [(max(s, lo), min(e, hi) - max(s, lo)) for t, s, e, _ in tl.slices
                if t == tid and e > lo and s < hi]
        if bars:
            y = rows[tid]
            # an edge of the bar's own colour keeps very short runs visible
            ax.broken_barh(bars, (y - 0.35, 0.7), facecolors=colors[tid],
                           edgecolors=colors[tid], linewidth=0.6)
    wakes = [(ic, w, t) for ic, w, t, _ in tl.wakes if lo <= ic <= hi and t in rows]
    if wakes:
        ax.scatter([ic for ic, _, _ in wakes], [rows[t] - 0.45 for _, _, t in wakes],
                   marker="v", s=18, color=WAKE_COLOR, zorder=3, label="wake_up_process")
        if len(wakes) <= MAX_WAKE_LINES:
            segs = [[(ic, rows[w]), (ic, rows[t] - 0.45)] for ic, w, t in wakes
                    if w in rows and w != t]
            ax.add_collection(LineCollection(segs, colors=WAKE_COLOR, linewidths=0.5,
                                             linestyles="dotted", zorder=2))
    first = True
    for req, steps in sorted(tl.flows.items()):
        steps = sorted(steps, key=lambda s: "stf".index(s[0]))
        pts = [(ic, rows[tid]) for _, ic, tid in steps if tid in rows]
        if not any(lo <= x <= hi for x, _ in pts):
            continue
        for a, b in zip(pts, pts[1:]):
            ax.annotate("", xy=b, xytext=a, zorder=4,
                        arrowprops=dict(arrowstyle="->", color=FLOW_COLOR, lw=1.2))
        ax.plot([pts[0][0]], [pts[0][1]], "o", color=FLOW_COLOR, ms=4, zorder=4,
                label="kthread_create handshake" if first else None)
        first = False
        if labels:
            ax.annotate(f"#{req} {tl.names.get(req, '')}".rstrip(), xy=pts[0],
                        xytext=(2, 7), textcoords="offset points", fontsize=7,
                        color=FLOW_COLOR, clip_on=True)
    ax.set_xlim(lo, hi)


def figure(tl: Timeline, start: Optional[int] = None, end: Optional[int] = None):
    """The matplotlib Figure: the whole trace (or [start, end]) and, when the
    trace has handshakes and no window was asked for, a zoom on them."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise LabError("matplotlib is not installed: run `make setup` "
                       "(or pip install -e .)") from None

    lo = tl.start if start is None else start
    hi = tl.end if end is None else end
    if hi <= lo:
        raise LabError(f"empty window: icount {lo}..{hi}")
    panels = [(lo, hi, "who ran when")]
    zoom = handshake_window(tl) if start is None and end is None else None
    if zoom:
        panels.append((*zoom, "zoom: the kthread_create handshakes"))
    n = len(tl.tasks)
    fig = Figure(figsize=(14, (0.42 * n + 1.3) * len(panels) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    palette = [f"C{i}" for i in range(10)]
    colors = {tid: palette[i % 10] for i, (tid, _) in enumerate(tl.tasks)}
    rows = {tid: i for i, (tid, _) in enumerate(tl.tasks)}
    for i, (ax, (a, b, title)) in enumerate(zip(axes, panels)):
        # name the requests in the last panel only (the overview crowds them)
        _draw(ax, tl, a, b, colors, rows, labels=i == len(panels) - 1)
        ax.set_yticks(range(n), [label for _, label in tl.tasks])
        ax.set_ylim(n - 0.4, -0.8)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x):,}"))
        ax.set_xlabel("icount (instructions; 10,000,000 = 1 s of machine time)")
        top = ax.secondary_xaxis("top", functions=(lambda x: x / INSNS_PER_US / 1000,
                                                   lambda ms: ms * INSNS_PER_US * 1000))
        top.set_xlabel("ms", fontsize=8)
        ax.set_title(f"{title}: icount {a:,}..{b:,}", fontsize=10, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8)
    return fig


def _svg(fig) -> str:
    import matplotlib
    buf = io.StringIO()
    # stable ids; text stays text (searchable, smaller), in the viewer's sans-serif
    with matplotlib.rc_context({"svg.hashsalt": "kthread-lab", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def html_page(tl: Timeline, fig, source: str) -> str:
    """A self-contained page: the figure inline as SVG and the events as a table."""
    svg = _svg(fig)
    svg = svg[svg.index("<svg"):]               # drop the XML prolog and DOCTYPE
    rows = []
    label = dict(tl.tasks)
    for ic, tid, name, details in tl.events[:MAX_TABLE_ROWS]:
        rows.append(f"<tr><td>{ic:,}</td><td>{ic / INSNS_PER_US / 1000:.3f}</td>"
                    f"<td>{html.escape(label.get(tid, str(tid)))}</td>"
                    f"<td>{html.escape(name)}</td><td>{html.escape(details)}</td></tr>")
    more = len(tl.events) - MAX_TABLE_ROWS
    note = f"<p>... and {more:,} more events (see the JSON).</p>" if more > 0 else ""
    title = f"who ran when: {os.path.basename(source)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #fff; color: #111; }}
svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; }}
td:first-child, td:nth-child(2) {{ text-align: right; font-family: monospace; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>One track per kernel task. Bars: the task ran. Triangles: a wake_up_process() of that
task, with a dotted line from the task that woke it. Red arrows: a kthread_create()
handshake, from the requester to kthreadd (create_kthread) to the new thread (kthread()).
Machine time is the instruction count (icount), 10,000,000 per second.</p>
{svg}
<h2>Events</h2>
<table><tr><th>icount</th><th>ms</th><th>task</th><th>event</th><th>details</th></tr>
{chr(10).join(rows)}
</table>{note}
</body></html>
"""


FORMATS = (".html", ".svg", ".png")


def check_format(out: str) -> str:
    """The output format of `out` (its extension), or LabError."""
    ext = os.path.splitext(out)[1].lower()
    if ext not in FORMATS:
        raise LabError(f"{out}: unknown format {ext or '(none)'}; use one of "
                       + ", ".join(FORMATS))
    return ext


def render(tl: Timeline, out: str, source: str, start=None, end=None) -> None:
    """Write the picture to `out`; the format is its extension (.html, .svg, .png)."""
    ext = check_format(out)
    fig = figure(tl, start, end)
    try:
        if ext == ".html":
            with open(out, "w") as f:
                f.write(html_page(tl, fig, source))
        elif ext == ".svg":
            with open(out, "w") as f:
                f.write(_svg(fig))
        else:
            fig.savefig(out, format="png", dpi=110, metadata={"Software": None})
    except OSError as e:
        raise LabError(f"cannot write {out}: {e.strerror}") from None


def default_outputs(path: str) -> List[str]:
    """FILE.json -> FILE.html and FILE.svg beside it."""
    stem = path[:-5] if path.lower().endswith(".json") else path
    return [stem + ".html", stem + ".svg"]
