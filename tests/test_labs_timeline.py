"""kthread-lab timeline: the scheduling trace of a real boot drawn offline (SVG, PNG,
self-contained HTML) with matplotlib; the HTML page rendered by headless Chromium."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from labs import LabError, timeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ["swapper (pid 0)", "init (pid 1)", "kthreadd (pid 2)", "ksoftirqd/0 (pid 3)",
         "events/0 (pid 4)", "khelper (pid 5)", "kthread_demo (pid 6)"]


@pytest.fixture(scope="module")
def boot_json(kernel, tmp_path_factory):
    """The trace `kthread-stub --trace` would write for a boot up to oops_test."""
    from gdbstub.kernelaware import schedtrace
    path = tmp_path_factory.mktemp("trace") / "boot.json"
    path.write_text(schedtrace.dumps(schedtrace.record_boot(kernel).trace()))
    return path


def run_lab(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "labs", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=300)


def test_the_boot_trace_as_a_timeline(boot_json):
    tl = timeline.load(boot_json)
    assert [label for _, label in tl.tasks] == TASKS
    by_track = {}
    for tid, start, end, _ in tl.slices:
        by_track.setdefault(tid, []).append((start, end))
    for spans in by_track.values():         # a task runs in one interval at a time
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    # the four kthread_create handshakes: init -> kthreadd -> the new thread
    assert tl.names == {1: "ksoftirqd/0", 2: "events/0", 3: "khelper", 4: "kthread_demo"}
    for req, steps in tl.flows.items():
        assert [(ph, tid - 1) for ph, _, tid in steps] == [("s", 1), ("t", 2), ("f", 2 + req)]
        assert steps[0][1] < steps[1][1] < steps[2][1]
    # kthreadd (pid 2) is woken by init at each request
    assert [(w - 1, t - 1) for _, w, t, a in tl.wakes if a["caller"] == "kthread_create"] \
        == [(1, 2)] * 4


def test_cli_writes_html_and_svg_beside_the_trace(boot_json):
    r = run_lab("timeline", str(boot_json))
    assert r.returncode == 0, r.stderr
    html = boot_json.with_suffix(".html").read_text()
    svg = boot_json.with_suffix(".svg").read_text()
    assert f"{boot_json.with_suffix('.html')}" in r.stdout
    for label in TASKS + ["#1 ksoftirqd/0", "#4 kthread_demo", "zoom: the kthread_create"]:
        assert label in svg and label in html, label
    # self-contained: nothing fetched, no script
    assert "<script" not in html and "<link" not in html and " src=" not in html
    assert "<td>wake_up_process</td>" in html and "<td>create_kthread</td>" in html
    # the same trace gives the same picture
    again = run_lab("timeline", str(boot_json), "--out", str(boot_json.parent / "b.svg"))
    assert again.returncode == 0, again.stderr
    assert (boot_json.parent / "b.svg").read_text() == svg


def test_png_and_a_window(boot_json, tmp_path):
    import matplotlib.image
    out = tmp_path / "w.png"
    r = run_lab("timeline", str(boot_json), "--out", str(out), "--from", "430000",
                "--to", "460000")
    assert r.returncode == 0, r.stderr
    img = matplotlib.image.imread(out)
    assert img.shape[0] > 200 and img.shape[1] > 800
    assert img[..., :3].std() > 0.05
    svg = tmp_path / "w.svg"
    assert run_lab("timeline", str(boot_json), "--out", str(svg), "--from", "430000",
                   "--to", "460000").returncode == 0
    text = svg.read_text()
    assert "icount 430,000..460,000" in text and "zoom:" not in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_the_html_page_renders_in_headless_chromium(boot_json, tmp_path):
    import matplotlib.image
    page = tmp_path / "t.html"
    assert run_lab("timeline", str(boot_json), "--out", str(page)).returncode == 0
    shot = tmp_path / "shot.png"
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=1400,1100",
                        f"--screenshot={shot}", page.as_uri()],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0 and shot.exists(), r.stdout
    rgb = matplotlib.image.imread(shot)[..., :3]
    assert rgb.shape[:2] == (1100, 1400)
    assert rgb.std() > 0.05                              # not blank
    not_white = (rgb < 0.9).any(axis=-1).mean()
    assert not_white > 0.03, not_white
    # the running slices' colours (matplotlib's C0 blue: swapper) are on screen
    blue = ((abs(rgb[..., 0] - 0x1f / 255) < 0.05) & (abs(rgb[..., 1] - 0x77 / 255) < 0.05)
            & (abs(rgb[..., 2] - 0xb4 / 255) < 0.05)).mean()
    assert blue > 0.005, blue


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("{not json", "is not JSON"),
    ('{"events": []}', "no traceEvents list"),
    ('{"traceEvents": [{"ph": "i", "name": "x", "tid": 1, "ts": 0}]}', "no running slices"),
    ('{"traceEvents": [{"ph": "X", "tid": 1, "ts": "soon", "dur": 1}]}', "malformed trace event"),
])
def test_bad_input_is_one_line(tmp_path, content, message):
    path = tmp_path / "t.json"
    if content is not None:
        path.write_text(content)
    r = run_lab("timeline", str(path))
    assert r.returncode == 2
    assert r.stderr.startswith("kthread-lab: ") and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("t.html")) and not list(tmp_path.glob("t.svg"))


def test_unknown_output_format_is_one_line(boot_json, tmp_path):
    r = run_lab("timeline", str(boot_json), "--out", str(tmp_path / "t.pdf"))
    assert r.returncode == 2 and "unknown format .pdf" in r.stderr
    with pytest.raises(LabError, match="empty window"):
        timeline.figure(timeline.load(boot_json), 500, 400)


def test_start_with_a_timeline_draws_the_session_when_gdb_quits(kernel, gdb, tmp_path):
    from test_labs_cli import start_batch
    page = tmp_path / "lab2.html"
    r = start_batch(tmp_path, 2, "break complete\ncontinue\n", "--timeline", str(page))
    assert f"who ran when ({tmp_path / 'lab2.json'}): {page}" in r.stderr
    tl = timeline.load(tmp_path / "lab2.json")
    # lab 2 starts at init's first kthread_create and stops at the new thread's
    # complete(): the first handshake, whole
    assert [ph for ph, _, _ in tl.flows[1]] == ["s", "t", "f"]
    html = page.read_text()
    assert "#1 ksoftirqd/0" in html and "kthreadd (pid 2)" in html


def test_start_timeline_with_an_unknown_format_is_refused_before_gdb(tmp_path):
    r = run_lab("start", "1", "--timeline", str(tmp_path / "t.gif"))
    assert r.returncode == 2 and "unknown format .gif" in r.stderr
    assert not list(tmp_path.iterdir())
