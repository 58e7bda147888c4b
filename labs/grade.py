"""Grade a lab: replay the student's gdb command file in real gdb on a fresh machine.

The replay: a fresh `kthread-stub` (deterministic: same kernel, same command
line, the machine held at its first instruction), stock gdb with the kt-
helpers sourced and the lab's start.gdb run (-ex), then the student's command
file fed to gdb on stdin, as if typed: an error in one command does not end
the session (a `source`d file would stop at the first error).  After the
student's commands the grader runs its own trailer (`kt-ps`, `bt`,
`monitor icount`), so the transcript always ends with the machine's state.

Deadlines are counted in guest instructions: the stub runs with `--deadline
N` (grading.json "deadline", default DEFAULT_DEADLINE), so a `continue` that
never stops ends with SIGXCPU at the same instruction on every host, and
every later resume stops there again; gdb goes on with the rest of the file
and the trailer.  The report says TIMEOUT and the transcript keeps `kt-ps`,
every task's backtrace and the last scheduling-trace events.  Wall-clock
`timeout` seconds (grading.json, default 60) remain only as a backstop for
what the machine's clock cannot bound (a loop in gdb itself): then the
grader sends gdb SIGINT (Ctrl-C), at most `max_interrupts` times, then kills it.

The tests are grading.json's (name, points, the author's hint: what a
student sees); what each checks is in the instructor's key (key.json, never in
a student's install):
  "transcript": lines that must appear in order in the student's part of the
                transcript (exact after masking addresses, or `re:REGEX` for
                a whole-line regex), "absent": regexes no line may match;
  "answer": "Qn" and "patterns": regexes (searched case-insensitively) that
                the answer to Qn must all contain (or "any": one of them).
A failing test prints its hint; GOOD/BAD/MISSING details (which quote the key)
only in the instructor's verbose report.
"""
import os
import re
import signal
import subprocess
import time

from gdbstub.session import prettify
from gdbstub.transcript import find_in_order

from . import ROOT, LabError

BEGIN = "==== kthread-lab: student commands begin ===="
END = "==== kthread-lab: student commands end ===="
QUESTION = re.compile(r"^\s*(Q\d+)\s*[:.)]\s?(.*)$", re.I)
# Every lab's reference ends before 1.6 M instructions (the boot completes at
# ~1.54 M); idle time after that is cheap (the machine skips to timer ticks).
DEFAULT_DEADLINE = 100_000_000
SIGXCPU_LINE = "Program received signal SIGXCPU"


def parse_answers(text):
    """`Q1: ...` starts answer Q1; following lines continue it.  -> {"Q1": text}."""
    answers = {}
    current = None
    for line in text.splitlines():
        m = QUESTION.match(line)
        if m:
            current = m.group(1).upper()
            answers[current] = m.group(2)
        elif current is not None:
            answers[current] += "\n" + line
    return {k: v.strip() for k, v in answers.items()}


class Replay:
    def __init__(self, transcript, student, timed_out, interrupts, stub_stderr, seconds,
                 deadline=None):
        self.transcript = transcript      # all of it, prompts as `(gdb) cmd`
        self.student = student            # the student's part (between the markers)
        self.timed_out = timed_out        # wall-clock backstop: gdb interrupted
        self.interrupts = interrupts
        self.deadline = deadline          # the machine's budget (instructions)
        self.deadline_hit = SIGXCPU_LINE in student
        self.stub_stderr = stub_stderr
        self.seconds = seconds


def _student_part(transcript):
    lines = transcript.splitlines()
    try:
        b = next(i for i, l in enumerate(lines) if l.endswith(BEGIN) or l == BEGIN)
    except StopIteration:
        return ""
    e = next((i for i, l in enumerate(lines) if i > b and l == END), len(lines))
    part = [l for l in lines[b + 1:e] 
            if not (l.startswith("(gdb) echo ") and "kthread-lab:" in l)]
    return "\n".join(part) + "\n"


def deadline_of(lab):
    return int(lab.spec.get("deadline", DEFAULT_DEADLINE))


def replay(lab, commands_text, kernel=None, timeout=None, max_interrupts=3, deadline=None):
    """Run start.gdb then `commands_text` in real gdb against a fresh stub."""
    from gdbstub import session
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = os.path.relpath(ensure_kernel(), ROOT)
    if timeout is None:
        timeout = float(lab.spec.get("timeout", 60))
    if deadline is None:
        deadline = deadline_of(lab)
    stdin = (f"echo {BEGIN}\\n\n" + commands_text.rstrip("\n") + "\n"
             + f"echo \\n{END}\\n\n"
             + "echo ---- grader: kt-ps at the end ----\\n\nkt-ps\n"
             + "echo ---- grader: bt at the end ----\\n\nbt\n"
             + "echo ---- grader: guest instruction count ----\\n\nmonitor icount\n"
             + "echo ---- grader: the last scheduling-trace events ----\\n\n"
             + "monitor trace tail 30\n"
             + "echo ---- grader: every task's backtrace ----\\n\nmonitor tasks on\n"
             + "info threads\nthread apply all bt\n")
    t0 = time.monotonic()
    with session.Stub(kernel, lab.stub_args + ["--deadline", str(deadline)]) as stub:
        cmd = session.gdb_command(kernel, stub.address(), commands=[
            "set width 0",
            "monitor trace on",            # in memory, for the trailer's `trace tail`
            f"source {os.path.join(ROOT, 'gdb_scripts', 'kt.py')}",
            f"source {os.path.join(ROOT, 'labs', 'kt_lab.py')}",
            f"source {lab.file('start.gdb')}"])
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=ROOT, text=True,
                                start_new_session=True)
        out_parts = []
        interrupts = 0
        timed_out = False
        data = stdin
        while True:
            try:
                out, _ = proc.communicate(input=data, timeout=timeout)
                out_parts.append(out)
                break
            except subprocess.TimeoutExpired:
                timed_out = True
                data = None
                if interrupts >= max_interrupts:
                    proc.kill()
                    out, _ = proc.communicate()
                    out_parts.append(out or "")
                    out_parts.append(f"\n[kthread-lab: gdb killed after {interrupts} "
                                     "interrupts]\n")
                    stub.proc.kill()
                    break
                interrupts += 1
                proc.send_signal(signal.SIGINT)
    transcript = prettify("".join(out_parts))
    return Replay(transcript, _student_part(transcript), timed_out, interrupts,
                  stub.stderr.decode(errors="replace"), time.monotonic() - t0, deadline)


def check_transcript(test, text, context=2):
    """-> (ok, report lines) for a transcript test."""
    report, missing, pos, got = find_in_order(test.get("transcript", []), text)
    if missing is not None:
        report = report[-context:]
        report.append(f"MISSING {missing}")
        near = got[max(0, pos - 1):pos + context + 1]
        if near:
            report.append("  after the GOOD lines, gdb printed:")
            report += [f"        {n}" for n in near]
        return False, report
    for bad in test.get("absent", []):
        for g in got:
            if re.search(bad, g):
                return False, report[-context:] + [f"BAD     {g}",
                                                   f"  (no line may match {bad!r})"]
    return True, report


def check_answer(test, answers):
    q = test["answer"]
    text = answers.get(q, "")
    if not text:
        return False, [f"MISSING answer {q}"]
    missing = [p for p in test.get("patterns", []) if not re.search(p, text, re.I | re.S)]
    anyof = test.get("any", [])
    if anyof and not any(re.search(p, text, re.I | re.S) for p in anyof):
        missing.append("one of " + " | ".join(anyof))
    if missing:
        return False, [f"BAD     {q}: {text[:200]!r}"] + [f"  wanted {m}" for m in missing]
    return True, [f"GOOD    {q}"]


class Result:
    def __init__(self, lab, tests, replay):
        self.lab = lab
        self.tests = tests            # [(test, ok, report)]
        self.replay = replay

    @property
    def score(self):
        return sum(t["points"] for t, ok, _ in self.tests if ok)

    @property
    def total(self):
        return sum(t["points"] for t, _, _ in self.tests)

    def failed(self):
        return [t["name"] for t, ok, _ in self.tests if not ok]

    def report(self, verbose=False):
        """The student's report: each test's status, the hint of each failed one.
        verbose (the instructor's): also GOOD/BAD/MISSING details, which quote the key."""
        lines = [f"== lab {self.lab.number}: {self.lab.title} =="]
        r = self.replay
        if r.deadline_hit:
            lines.append(f"TIMEOUT: the machine reached the lab's deadline of {r.deadline:,} "
                         "guest instructions (SIGXCPU): a command never stopped (a continue "
                         "with no breakpoint that is hit?); every later resume stopped there "
                         "too. kt-ps, every task's backtrace and the last trace events are "
                         "in the saved transcript.")
        if r.timed_out:
            lines.append(f"TIMEOUT: gdb was still running after the wall-clock backstop; the "
                         f"grader interrupted it {r.interrupts} time(s) (SIGINT, as Ctrl-C). "
                         "A gdb command looped without running the machine? "
                         "kt-ps at the end is in the saved transcript.")
        for test, ok, rep in self.tests:
            status = "OK" if ok else "FAIL"
            lines.append(f"{test['name']}: {status} ({test['points'] if ok else 0}/{test['points']})")
            if not ok and test.get("hint"):
                lines.append(f"    hint: {test['hint']}")
            if verbose:
                lines += ["    " + l for l in rep]
        lines.append(f"Score: {self.score}/{self.total}")
        return "\n".join(lines)


def grade(lab, commands_text, answers_text="", kernel=None, timeout=None, deadline=None,
          key=None):
    """Grade with the lab's key (`key`: a kit folder, see Lab.key_dir)."""
    checks = lab.load_key(key)
    r = replay(lab, commands_text, kernel=kernel, timeout=timeout, deadline=deadline)
    answers = parse_answers(answers_text or "")
    tests = []
    for student_test in lab.spec["tests"]:
        test = dict(student_test, **checks[student_test["name"]])
        if "answer" in test:
            ok, rep = check_answer(test, answers)
        else:
            ok, rep = check_transcript(test, r.student)
        tests.append((test, ok, rep))
    return Result(lab, tests, r)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise LabError(f"cannot read {path}: {e.strerror}")
