"""kthread-lab: list, start, grade and check the teaching labs.

    kthread-lab list
    kthread-lab start N [--batch-commands FILE] [--force] [--trace FILE.json] [--timeline FILE.html]
                        [--record FILE.gdb]
    kthread-lab grade N FILE [ANSWERS] [--key DIR] | grade N --reference | grade N --batch DIR
    kthread-lab seeds N [--from S] [--to S]
    kthread-lab doctor
    kthread-lab mermaid [--out FILE]
    kthread-lab timeline FILE.json [--out FILE.html|.svg|.png]... [--from N] [--to N]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from . import ROOT, LabError, all_labs, get_lab

KT_PY = os.path.join(ROOT, "gdb_scripts", "kt.py")
KT_LAB_PY = os.path.join(ROOT, "labs", "kt_lab.py")


def _rundir():
    d = os.environ.get("KTHREAD_LAB_RUNDIR") or os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return d


def _pidfile():
    return os.path.join(_rundir(), f"kthread-lab-{os.getuid()}.pid")


def _running():
    """(pid, lab) of this user's running `kthread-lab start`, or None."""
    try:
        with open(_pidfile()) as f:
            pid, lab = f.read().split()[:2]
        pid = int(pid)
        os.kill(pid, 0)
        return pid, lab
    except (OSError, ValueError):
        return None


def _count(text):
    from gdbstub.target import parse_count
    try:
        return parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_list(args):
    for lab in all_labs():
        print(f"{lab.number}  {lab.title}  ({lab.total_points} points)  "
              f"labs/{os.path.basename(lab.path)}/handout.md")
    return 0


def start_command(lab, kernel, batch_commands=None, trace=None, history=None):
    """The gdb command line of `kthread-lab start`: helpers loaded, stub on a pipe
    (recording the scheduling trace to `trace` if given, the commands typed to
    the readline history file `history`)."""
    gdb = shutil.which("gdb")
    if gdb is None:
        raise LabError("gdb not found: install it (Debian: apt-get install gdb); "
                       "`kthread-lab doctor` checks everything")
    from gdbstub.harness.session import gdb_settings, stub_pipe
    trace_args = ["--trace", os.path.abspath(trace)] if trace else []
    # stderr_path None: the console and the stub's messages go to the terminal
    stub = stub_pipe(kernel, [*lab.stub_args, *trace_args], stderr_path=None)
    cmd = [gdb, "-q", "-iex", f"add-auto-load-safe-path {ROOT}", *gdb_settings()]
    if history:
        cmd += ["-iex", "set history save on", "-iex", "set history size unlimited",
                "-iex", "set history remove-duplicates 0",
                "-iex", f"set history filename {history}"]
    if batch_commands:
        cmd += ["-batch"]
    cmd += [kernel, "-ex", f"target remote {stub}",
            "-ex", f"source {KT_PY}", "-ex", f"source {KT_LAB_PY}",
            "-x", lab.file("start.gdb")]
    if batch_commands:
        cmd += ["-x", batch_commands]
    return cmd


def cmd_start(args):
    lab = get_lab(args.lab)
    running = _running()
    if running and not args.force:
        pid, other = running
        print(f"kthread-lab: you already run lab {other} (kthread-lab pid {pid}); quit that gdb "
              f"first, or add --force to start another (each start has its own machine on a "
              f"pipe, so two never clash)", file=sys.stderr)
        return 1
    from machine.kbuild import ensure_kernel
    kernel = ensure_kernel()
    if args.batch_commands and not os.path.exists(args.batch_commands):
        raise LabError(f"no such file: {args.batch_commands}")
    history = None
    if args.record:
        if args.batch_commands:
            raise LabError("--record saves what you type: it needs an interactive session "
                           "(no --batch-commands)")
        _check_writable(args.record)
        fd, history = tempfile.mkstemp(prefix="kthread-lab-history-")
        os.close(fd)
    cmd = start_command(lab, kernel, args.batch_commands, args.trace, history)
    print(f"kthread-lab: lab {lab.number}: {lab.title}; handout: {lab.file('handout.md')}",
          file=sys.stderr)
    pidfile = _pidfile()
    wrote = False
    if not running:
        try:
            with open(pidfile, "w") as f:
                f.write(f"{os.getpid()} {lab.number}\n")
            wrote = True
        except OSError:
            pass
    try:
        return _run_gdb(cmd)
    finally:
        if wrote:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
        if history:
            _save_record(history, args.record, lab)


def _run_gdb(cmd):
    """Run gdb with the terminal to itself: Ctrl-C (SIGINT to the terminal's
    process group) is gdb's, to interrupt the machine or a command; this
    process ignores it while gdb runs (gdb gets the default back at exec)."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, preexec_fn=lambda: signal.signal(
            signal.SIGINT, signal.SIG_DFL))
        return proc.wait()
    finally:
        signal.signal(signal.SIGINT, old)


def _check_writable(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise LabError(f"--record {path}: cannot write there (no such folder, or not writable)")


def _save_record(history, path, lab):
    """The commands typed (gdb's saved history), as a command file for `grade`."""
    try:
        with open(history) as f:
            typed = [l.rstrip("\n") for l in f if not l.startswith("#")]
    except OSError:
        typed = []
    finally:
        try:
            os.unlink(history)
        except OSError:
            pass
    typed = [l for l in typed if l.strip() not in ("quit", "q", "exit")]
    with open(path, "w") as f:
        f.write(f"# kthread-lab start {lab.number} --record: the commands typed, after "
                f"start.gdb.\n# Grade it: kthread-lab grade {lab.number} {path} ANSWERS\n")
        f.write("".join(l + "\n" for l in typed))
    print(f"kthread-lab: {len(typed)} command(s) recorded in {path}", file=sys.stderr)


def cmd_grade(args):
    from .grade import check_arguments, grade, read
    lab = get_lab(args.lab)
    if lab.spec.get("kind") == "code":
        if args.batch:
            raise LabError(f"lab {lab.number} grades C files one at a time (kthread-lab grade "
                           f"{lab.number} FILE.c): --batch is for the gdb labs")
        return cmd_grade_code(lab, args)
    if args.batch:
        if args.file or args.reference:
            raise LabError("--batch DIR grades every submission folder of DIR: give no FILE "
                           "and no --reference")
        return _grade_batch(lab, args)
    if args.reference:
        commands = read(lab.key_file("reference.gdb", args.key))
        answers = read(lab.key_file("reference-answers.txt", args.key))
    else:
        if not args.file:
            raise LabError("grade needs a gdb command file (or --reference, or --batch DIR)")
        commands = read(args.file)
        answers = read(args.answers) if args.answers else ""
        check_arguments(commands, answers, args.file, args.answers or "ANSWERS")
    result = grade(lab, commands, answers, timeout=args.timeout, deadline=args.deadline,
                   key=args.key)
    print(result.report(verbose=args.verbose))
    if args.save:
        with open(args.save, "w") as f:
            f.write(result.replay.transcript)
        print(f"transcript saved in {args.save}")
    elif result.replay.timed_out or result.replay.deadline_hit:
        # a name of its own: graders running side by side never overwrite each other's
        fd, path = tempfile.mkstemp(prefix=f"lab{lab.number}-timeout-", suffix=".txt", dir=".")
        with os.fdopen(fd, "w") as f:
            f.write(result.replay.transcript)
        print(f"transcript (with kt-ps and every task's backtrace after the timeout) saved in "
              f"{os.path.relpath(path)}")
    return 0 if result.score == result.total else 1


    if lab.spec.get("kind") == "code":
        if args.batch:
            raise LabError(f"lab {lab.number} grades C files one at a time (kthread-lab grade "
                           f"{lab.number} FILE.c): --batch is for the gdb labs")
        return cmd_grade_code(lab, args)
def _grade_batch(lab, args):
    from . import batch
    folder = args.batch.rstrip(os.sep) or args.batch
    out = args.out or f"{folder}-lab{lab.number}-grades"
    n = [0]

    def progress(rec):
        n[0] += 1
        print(f"[{n[0]}] {rec['id']}: {rec['score']}/{rec['total']} {rec['status']}"
              + (f" ({rec['message']})" if rec["message"] else ""), file=sys.stderr)

    records = batch.run(lab, folder, out, key=args.key, jobs=args.jobs, progress=progress)
    bad = [r for r in records if r["status"] == "error"]
    print(f"{len(records)} submissions graded into {out}: scores.csv, review.csv, "
          f"ID.json and ID.transcript.txt each"
          + (f"; the grader failed on {len(bad)}: {', '.join(r['id'] for r in bad)}"
             if bad else ""))
    return 1 if bad else 0


def cmd_grade_code(lab, args):
    """A lab whose hand-in is C code (labs/codegrade.py): FILE.c, no answers."""
    from .codegrade import grade_code
    if args.reference:
        source = lab.key_file(os.path.basename(lab.spec["source"]), args.key)
    elif not args.file or args.answers:
        raise LabError(f"lab {lab.number} grades a C file: kthread-lab grade {lab.number} "
                       f"FILE.c (your {lab.spec['source']})")
    else:
        source = args.file
    result = grade_code(lab, source, deadline=args.deadline, timeout=args.timeout)
    print(result.report(verbose=args.verbose))
    if args.save:
        with open(args.save, "w") as f:
            f.write(result.build_log + result.transcript)
        print(f"build log and transcript saved in {args.save}")
    return 0 if result.score == result.total else 1


def cmd_mermaid(args):
    from . import mermaid
    events = mermaid.record()
    text = mermaid.render(events)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"kthread-lab: Mermaid sequence diagram of {len(events)} events in {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_start_timeline(args):
    """`start --timeline OUT`: record the trace (to --trace, or OUT's stem .json)
    and draw it to OUT when gdb quits."""
    if not args.timeline:
        return cmd_start(args)
    from . import timeline
    timeline.check_format(args.timeline)
    args.trace = args.trace or os.path.splitext(args.timeline)[0] + ".json"
    rc = cmd_start(args)
    if os.path.exists(args.trace):
        tl = timeline.load(args.trace)
        timeline.render(tl, args.timeline, args.trace)
        print(f"kthread-lab: who ran when ({args.trace}): {args.timeline}", file=sys.stderr)
    return rc


def cmd_timeline(args):
    from . import timeline
    outs = args.out or timeline.default_outputs(args.trace)
    for out in outs:                  # every format checked before any work
        timeline.check_format(out)
    tl = timeline.load(args.trace)
    for out in outs:
        timeline.render(tl, out, args.trace, args.start, args.end)
    print(f"kthread-lab: who ran when: {len(tl.tasks)} tasks, {len(tl.slices)} running "
          f"slices, icount {tl.start:,}..{tl.end:,}: {', '.join(outs)}")
    return 0


# ---- doctor -------------------------------------------------------------

def _check_gdb():
    gdb = shutil.which("gdb")
    if gdb is None:
        return [("gdb", False, "not found", "install gdb 12 or newer (Debian: apt-get install gdb)")]
    out = subprocess.run([gdb, "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out.splitlines()[0] if out else "")
    res = []
    version = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    ok = version >= (12, 0)
    res.append(("gdb version", ok, f"{version[0]}.{version[1]} ({gdb})",
                "install gdb 12 or newer (Debian 12: apt-get install gdb)"))
    py = subprocess.run([gdb, "-nx", "-batch", "-ex", "python print('kt-python-ok')"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ok = "kt-python-ok" in py.stdout
    res.append(("gdb Python support", ok, "yes" if ok else py.stdout.strip()[:100],
                "install a gdb built with Python (Debian's `gdb` package is; not gdb-minimal)"))
    return res


def _prebuilt_current():
    """Installed from a wheel with the kernel sources as shipped: no build needed."""
    from machine import kbuild, ksources
    src = kbuild.shipped_sources()
    return src is not None and ksources.digest(src) == ksources.stamped(src)


def _check_gcc():
    ok = shutil.which("gcc") is not None
    if not ok and _prebuilt_current():
        return [("gcc", True, "not found (not needed: the kernel is prebuilt)", "")]
    return [("gcc", ok, shutil.which("gcc") or "not found",
             "install gcc, binutils and make (Debian: apt-get install gcc binutils make)")]


def _check_kernel():
    if _prebuilt_current():
        return [("kernel image", True, "kernel_src/vmlinux prebuilt from the installed sources",
                 "")]
    if shutil.which("make") is None:
        return [("kernel image", False, "make not found", "apt-get install make")]
    r = subprocess.run(["make", "-q", "-C", os.path.join(ROOT, "kernel_src")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vmlinux = os.path.join(ROOT, "kernel_src", "vmlinux")
    if r.returncode == 0 and os.path.exists(vmlinux):
        return [("kernel image", True, "kernel_src/vmlinux is up to date", "")]
    what = "missing" if not os.path.exists(vmlinux) else "stale (sources newer)"
    if r.returncode == 2:
        what = "make -q failed"
    return [("kernel image", False, what, "make -C kernel_src")]


def _check_tdesc():
    gdb = shutil.which("gdb")
    vmlinux = os.path.join(ROOT, "kernel_src", "vmlinux")
    if gdb is None or not os.path.exists(vmlinux):
        return [("i386 target description", False, "not checked (gdb or kernel missing)",
                 "fix the problems above, then run doctor again")]
    from gdbstub.harness.session import gdb_settings, stub_pipe
    stub = stub_pipe(vmlinux, stderr_path=None)
    try:
        r = subprocess.run([gdb, "-nx", "-batch", *gdb_settings(), vmlinux,
                            "-ex", f"target remote {stub}",
                            "-ex", "show architecture", "-ex", "print/x $cr0",
                            "-ex", "print/x $eip"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           cwd=ROOT, timeout=60)
        out = r.stdout
    except subprocess.TimeoutExpired:
        out = "timed out"
    ok = ("i386" in out and re.search(r"= 0x1000010", out) is not None
          and "warning" not in out.lower())
    detail = "accepted (i386, cr0-cr4, eip at the entry point)" if ok else \
        " / ".join(l for l in out.splitlines() if l.strip())[:300]
    return [("i386 target description", ok, detail,
             "gdb must support i386 (Debian's gdb does; else install gdb-multiarch) and "
             "the Python deps must be installed (pip install -e .)")]


MAX_SEEDS = 1000


def cmd_seeds(args):
    lab = get_lab(args.lab)
    if args.last < args.first:
        raise LabError(f"--to {args.last} comes before --from {args.first}")
    if args.last - args.first >= MAX_SEEDS:     # about a second each: a typo is not a day
        raise LabError(f"seeds {args.first}..{args.last}: at most {MAX_SEEDS} at a time")
    from machine.kbuild import ensure_kernel
    from .seeds import machine_args, report
    try:
        machine_args(lab.stub_args)         # a one-CPU lab: say so before booting anything
    except LabError as e:
        raise LabError(f"lab {lab.number} {e}") from None
    print(f"kthread-lab: lab {lab.number}: booting seeds {args.first}..{args.last} "
          f"without gdb ({' '.join(lab.stub_args)}, each seed in place of the lab's)",
          file=sys.stderr)
    report(lab, ensure_kernel(), args.first, args.last, sys.stdout)
    return 0


def cmd_doctor(args):
    checks = _check_gdb() + _check_gcc() + _check_kernel() + _check_tdesc()
    bad = 0
    for name, ok, detail, fix in checks:
        print(f"{'ok  ' if ok else 'FAIL'}  {name}: {detail}")
        if not ok:
            bad += 1
            print(f"      fix: {fix}")
    print("all checks passed" if not bad else f"{bad} problem(s) found")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kthread-lab", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the labs")
    p = sub.add_parser("start", help="start lab N: machine halted, gdb stopped where the lab begins")
    p.add_argument("lab")
    p.add_argument("--batch-commands", metavar="FILE",
                   help="run FILE in gdb -batch after start.gdb instead of an interactive session")
    p.add_argument("--force", action="store_true", help="start even if one is running")
    p.add_argument("--record", metavar="FILE",
                   help="save the commands you type as a command file for `grade` "
                        "(written when gdb quits)")
    p.add_argument("--trace", metavar="FILE.json",
                   help="record the machine's scheduling trace (Chrome trace JSON, for "
                        "Perfetto) to FILE.json; written when gdb quits")
    p.add_argument("--timeline", metavar="FILE.html",
                   help="when gdb quits, draw the trace (kthread-lab timeline) to FILE.html "
                        "(or .svg, .png); the trace goes to --trace or FILE.json")
    p = sub.add_parser("grade", help="replay a gdb command file on a fresh machine and grade it")
    p.add_argument("lab")
    p.add_argument("file", nargs="?")
    p.add_argument("answers", nargs="?")
    p.add_argument("--reference", action="store_true",
                   help="grade the key's reference solution")
    p.add_argument("--key", metavar="DIR",
                   help="the instructor kit: a lab's key folder, or a folder of N-name/key "
                        "folders (default: labs/N-name/key of this clone)")
    p.add_argument("--deadline", type=_count, metavar="N",
                   help="guest instructions before the machine stops with SIGXCPU "
                        "(default: the lab's grading.json, or 100M)")
    p.add_argument("--timeout", type=float,
                   help="wall-clock backstop: seconds before gdb is interrupted")
    p.add_argument("--save", metavar="FILE", help="save the whole transcript")
    p.add_argument("--batch", metavar="DIR",
                   help="grade every submission folder in DIR (one .gdb and one answers "
                        "file each), in parallel: ID.json, ID.transcript.txt, scores.csv, "
                        "review.csv in --out")
    p.add_argument("--out", metavar="DIR", help="where --batch writes (default: DIR-labN-grades)")
    p.add_argument("--jobs", type=int, metavar="J",
                   help="submissions graded at once with --batch (default: one per core)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="the instructor's report: what each test matched or missed (quotes the key)")
    p = sub.add_parser("mermaid", help="the boot's kthread_create handshakes as a Mermaid "
                       "sequence diagram (from the machine's scheduling trace)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p = sub.add_parser("timeline", help="draw a scheduling trace (start --trace, kthread-stub "
                       "--trace) offline: who ran when, as HTML, SVG or PNG")
    p.add_argument("trace", metavar="FILE.json")
    p.add_argument("--out", "-o", action="append", metavar="FILE",
                   help="FILE.html (self-contained page), FILE.svg or FILE.png; repeatable "
                        "(default: FILE.html and FILE.svg beside the trace)")
    p.add_argument("--from", dest="start", type=_count, metavar="ICOUNT",
                   help="draw from this instruction count (default: the trace's start)")
    p.add_argument("--to", dest="end", type=_count, metavar="ICOUNT",
                   help="draw up to this instruction count (default: the trace's end)")
    p = sub.add_parser("seeds", help="boot lab N's machine once per --sched-seed, without gdb, "
                       "and say which seeds hang (lab 6)")
    p.add_argument("lab")
    from machine import options             # the --sched-seed check both CLIs use
    p.add_argument("--from", dest="first", type=options.sched_seed, default=1, metavar="S",
                   help="first seed (default 1)")
    p.add_argument("--to", dest="last", type=options.sched_seed, default=20, metavar="S",
                   help="last seed (default 20)")
    sub.add_parser("doctor", help="check gdb, gcc, the kernel image and the target description")
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "start": cmd_start_timeline, "grade": cmd_grade,
                "doctor": cmd_doctor, "mermaid": cmd_mermaid, "seeds": cmd_seeds,
                "timeline": cmd_timeline}[args.cmd](args)
    except LabError as e:
        print(f"kthread-lab: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # e.g. KernelImageError, SessionError: one line
        if type(e).__name__ in ("KernelImageError", "SessionError"):
            print(f"kthread-lab: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
