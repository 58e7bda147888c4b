"""Grading a lab whose hand-in is C code (lab 5): build, boot, watch through gdb.

`kthread-lab grade 5 FILE.c`:
  1. build: a scratch copy of kernel_src/ (sources only) with FILE.c as the
     lab's source file (grading.json "source", e.g. kernel/lab5.c), `make` in a
     temporary folder; the student's tree is never touched;
  2. boot that kernel under a fresh kthread-stub with the lab's stub arguments
     (e.g. --append lab5=run), its guest-instruction deadline and a
     scheduling trace, and run the lab's own gdb script (check.gdb: the
     student writes no gdb commands here);
  3. check what gdb saw (kt-ps, the values kthread_stop() and lab5_stop()
     returned, the stop in oops_test() after the boot) and the trace (who
     ran).  The console is the student's to write (printk), so it is
     evidence of nothing but a kernel BUG line, which only costs points.
The checks are the functions in CHECKS, named by grading.json's tests.
"""
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from . import ROOT, LabError

MAX_SOURCE = 200_000        # bytes: a hand-in larger than this is refused
BUILD_TIMEOUT = 300         # seconds for make (the kernel builds in ~10 s)
KT_PY = os.path.join(ROOT, "gdb_scripts", "kt.py")


@dataclass
class CodeResult:
    lab: object
    build_log: str = ""
    built: bool = False
    transcript: str = ""
    console: str = ""
    results: List[Tuple[dict, bool, str]] = field(default_factory=list)   # (test, ok, why)

    @property
    def score(self):
        return sum(t["points"] for t, ok, _ in self.results if ok)

    @property
    def total(self):
        return self.lab.total_points

    def failed(self):
        return [t["name"] for t, ok, _ in self.results if not ok]

    def report(self, verbose=False):
        out = [f"== lab {self.lab.number}: {self.lab.title} =="]
        for t, ok, why in self.results:
            out.append(f"  {t['name']}: {'OK' if ok else 'FAIL'} "
                       f"({t['points'] if ok else 0}/{t['points']})")
            if not ok:
                out.append(f"    hint: {t['hint']}")
            if why and (verbose or not ok):
                out.extend("    " + line for line in why.splitlines())
        out.append(f"Score: {self.score}/{self.total}")
        return "\n".join(out)


def read_source(path) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SOURCE + 1)
    except OSError as e:
        raise LabError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_SOURCE:
        raise LabError(f"{path} is larger than {MAX_SOURCE} bytes: not a lab hand-in")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise LabError(f"{path} is not a text file") from None


_INCLUDE = re.compile(r"^\s*#\s*include\s*<(linux|asm)/[A-Za-z0-9_]+\.h>\s*(/\*.*\*/\s*)?$")
_DIRECTIVE = re.compile(r"^\s*#\s*(\w*)")
_ALLOWED = {"include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif"}
_FORBIDDEN = ("incbin", ".include", "__has_include", "include_next")


def screen(source: str, path: str) -> None:
    """Refuse, before any build, a hand-in that could make the compiler read
    host files (the instructor's key among them): only `#include <linux/X.h>`
    or `<asm/X.h>` (the kernel's own headers), no other directive that names a
    file, no `.incbin` in asm.  LabError names the line."""
    for n, line in enumerate(source.splitlines(), 1):
        m = _DIRECTIVE.match(line)
        if m and (m.group(1) not in _ALLOWED
                  or (m.group(1) == "include" and not _INCLUDE.match(line))):
            raise LabError(f"{path}:{n}: `{line.strip()[:60]}` is not allowed in a hand-in "
                           f"(only #include <linux/...h> or <asm/...h>, #define, #if...)")
        for word in _FORBIDDEN:
            if word in line:
                raise LabError(f"{path}:{n}: `{word}` is not allowed in a hand-in")


def build(lab, source: str, workdir: str) -> Tuple[bool, str, str]:
    """Build the kernel with `source` as the lab's file in a copy under
    `workdir`.  Returns (ok, log, vmlinux path)."""
    src = os.path.join(ROOT, "kernel_src")
    tree = os.path.join(workdir, "kernel_src")
    shutil.copytree(src, tree, ignore=shutil.ignore_patterns("build", "vmlinux"))
    with open(os.path.join(tree, lab.spec["source"]), "w") as f:
        f.write(source)
    try:
        r = subprocess.run(["make", "-s", "-C", tree], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, f"make took longer than {BUILD_TIMEOUT} s", ""
    vmlinux = os.path.join(tree, "vmlinux")
    # the student's paths, not the scratch folder's
    log = r.stdout.replace(tree + "/", "")
    return r.returncode == 0 and os.path.exists(vmlinux), log, vmlinux


def _session(lab, vmlinux, trace, deadline, timeout):
    from gdbstub.harness import session
    with open(lab.file("check.gdb")) as f:
        commands = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    stub_args = lab.stub_args + ["--deadline", str(deadline), "--trace", trace]
    text, _ = session.run(commands=[f"source {KT_PY}"] + commands + ["monitor dmesg"],
                          kernel=vmlinux, stub_args=stub_args, timeout=timeout)
    i = text.rfind("(gdb) monitor dmesg")
    return text, (text[i:] if i >= 0 else "")


def _gdb_part(transcript, console):
    """The transcript before `monitor dmesg`: what gdb printed.  The console
    after it is the guest's printk() output, which the student's code writes,
    so no check may take evidence from there."""
    return transcript[:len(transcript) - len(console)]


def grade_code(lab, source_path, deadline=None, timeout=None) -> CodeResult:
    source = read_source(source_path)
    screen(source, source_path)
    res = CodeResult(lab)
    with tempfile.TemporaryDirectory(prefix=f"kthread-lab{lab.number}-") as d:
        res.built, res.build_log, vmlinux = build(lab, source, d)
        facts = {"built": res.built, "log": res.build_log}
        if res.built:
            trace = os.path.join(d, "trace.json")
            res.transcript, res.console = _session(
                lab, vmlinux, trace, deadline or lab.spec.get("deadline", 100_000_000),
                timeout or lab.spec.get("timeout", 120))
            facts.update(transcript=_gdb_part(res.transcript, res.console),
                         console=res.console,
                         trace=trace if os.path.exists(trace) else None)
        for test in lab.spec["tests"]:
            check = CHECKS.get(test["name"])
            if check is None:
                raise LabError(f"lab {lab.number}: no check for test {test['name']}")
            ok, why = check(facts) if res.built or test["name"] == "builds" else \
                (False, "")
            res.results.append((test, ok, why))
    return res


# ---- lab 5's checks: each takes the facts, returns (ok, why) -----------------

def _kt_ps_rows(text):
    """(pid, state letter, comm) of every task line kt-ps printed in `text`."""
    return re.findall(r"^[* ] 0x[0-9a-f]+\s+(\d+)\s+(\w) \([\w ]+\)\s+(\S+)$", text, re.M)


def _section(text, start, end=None):
    i = text.find(start)
    if i < 0:
        return ""
    j = text.find(end, i + len(start)) if end else -1
    return text[i:j if j >= 0 else len(text)]


def _stop_values(text):
    """{comm: value} from `print k->comm` then `finish` out of kthread_stop."""
    out = {}
    for m in re.finditer(r'^\$\d+ = "([^"\\]*)(?:\\000)*".*?^Value returned is \$\d+ = (-?\d+)$',
                         text, re.M | re.S):
        out.setdefault(m.group(1), int(m.group(2)))
    return out


def _result_line(transcript):
    """What lab5_stop() reported, as check.gdb's printf read it from memory
    (the console line says the same, but a printk() could write that)."""
    return re.search(r"^@lab5 err=(-?\d+) produced=(-?\d+) consumed=(-?\d+) sum=(-?\d+)$",
                     transcript, re.M)


def _boot_completed(transcript):
    """gdb stopped in oops_test(), which init calls after "init: boot complete"."""
    return re.search(r"^Breakpoint \d+, (0x[0-9a-f]+ in )?oops_test \(", transcript, re.M)


def check_builds(f):
    if f["built"]:
        return True, ""
    errors = [l for l in f["log"].splitlines() if "error" in l or "Error" in l]
    return False, "\n".join((errors or f["log"].splitlines())[:15])


def check_two_kthreads(f):
    at_stop = _section(f["transcript"], "(gdb) kt-ps", "(gdb) delete")
    rows = {comm: state for _, state, comm in _kt_ps_rows(at_stop)}
    missing = [c for c in ("lab5/producer", "lab5/consumer") if c not in rows]
    if missing:
        return False, "when init calls lab5_stop(), kt-ps shows no " + " and no ".join(missing)
    ran = {}
    if f.get("trace"):
        from . import timeline
        tl = timeline.load(f["trace"])
        label = dict(tl.tasks)
        for tid, _, _, _ in tl.slices:
            comm = label.get(tid, "").split(" (pid")[0]
            ran[comm] = ran.get(comm, 0) + 1
    once = [c for c in ("lab5/producer", "lab5/consumer") if ran.get(c, 0) < 2]
    if once:
        return False, ("the scheduling trace shows " + " and ".join(once)
                       + " on the CPU less than twice: the two never took turns")
    return True, ""


def check_producer_stops(f):
    v = _stop_values(f["transcript"]).get("lab5/producer")
    if v is None:
        return False, "kthread_stop() of lab5/producer did not return"
    if v <= 4:
        return False, f"the producer made {v} items: no more than the buffer holds"
    return True, f"kthread_stop(lab5/producer) returned {v}"


def check_consumer_stops(f):
    v = _stop_values(f["transcript"]).get("lab5/consumer")
    if v is None:
        return False, "kthread_stop() of lab5/consumer did not return"
    return True, f"kthread_stop(lab5/consumer) returned {v}"


def check_every_item_once(f):
    vals = _stop_values(f["transcript"])
    m = _result_line(f["transcript"])
    if m is None or "lab5/producer" not in vals or "lab5/consumer" not in vals:
        return False, "lab5_stop() did not complete"
    err, produced, consumed, total = (int(x) for x in m.groups())
    n = vals["lab5/producer"]
    want = n * (n + 1) // 2
    if err or produced != n or consumed != n or total != want \
            or vals["lab5/consumer"] != want:
        return False, (f"produced {n}, consumed {consumed}, sum {vals['lab5/consumer']} "
                       f"(items 1..{n} sum to {want})")
    return True, ""


def check_both_released(f):
    """kthread_stop() returned for both (so both exited) and kt-ps at the end
    of the boot lists neither: each released itself (not a zombie)."""
    t = f["transcript"]
    vals = _stop_values(t)
    stop = _boot_completed(t)
    left = {comm for _, _, comm in _kt_ps_rows(t[stop.end():])} if stop else set()
    missing = [comm for comm in ("lab5/producer", "lab5/consumer")
               if comm not in vals or stop is None or comm in left]
    if missing:
        return False, " and ".join(missing) + " did not exit and release itself"
    return True, ""


def check_boot_completes(f):
    c = f["console"]
    if "BUG: scheduling while atomic" in c:
        return False, "a thread slept holding a spinlock (BUG: scheduling while atomic)"
    if _result_line(f["transcript"]) is None or not _boot_completed(f["transcript"]):
        return False, "init never got past lab5_stop(): \"init: boot complete\" never came"
    return True, ""


CHECKS: Dict[str, Callable[[dict], Tuple[bool, str]]] = {
    "builds": check_builds,
    "two-kthreads-take-turns": check_two_kthreads,
    "producer-stops": check_producer_stops,
    "consumer-stops": check_consumer_stops,
    "every-item-once-in-order": check_every_item_once,
    "both-release-themselves": check_both_released,
    "boot-completes": check_boot_completes,
}
