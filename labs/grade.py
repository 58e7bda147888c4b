"""Grade a lab: replay the student's gdb command file in real gdb on a fresh machine,
and grade what the machine did, not what gdb printed.

Before the run, labs/sandbox.py checks every line: a command that touches the
host (`shell`, `python`, `source`, `dump`, `set logging`, ...) rejects the
submission with one line naming it.  The replay: a fresh `kthread-stub`
(deterministic: same kernel, same command line, the machine held at its first
instruction) writing its stop log (`--stop-log`: pc, pid, icount, reason and
registers of every stop it reports), stock gdb (`-nx`, a fresh HOME, in a
temporary folder that is removed afterwards) with the kt- helpers sourced and
the lab's start.gdb run, then the student's command file fed to gdb on stdin,
as if typed: an error in one command does not end the session.  After each of
the student's top-level commands the grader prints a marker with a secret
nonce, so every line of output is attributed to the command that printed it;
only the output of real debugger commands is evidence (sandbox.is_evidence:
not `echo`, `printf`, `output`, a `define`d command, `print` of a constant).
After the student's commands the grader runs its own trailer (`kt-ps`, `bt`,
`monitor icount`, ...), so the transcript always ends with the machine's state.

Deadlines are counted in guest instructions: the stub runs with `--deadline
N` (grading.json "deadline", default DEFAULT_DEADLINE), so a `continue` that
never stops ends with SIGXCPU at the same instruction on every host, and
every later resume stops there again; gdb goes on with the rest of the file
and the trailer.  The report says TIMEOUT and the transcript keeps `kt-ps`,
every task's backtrace and the last scheduling-trace events.  Wall-clock
`timeout` seconds (grading.json, default 60) remain only as a backstop for
what the machine's clock cannot bound (a loop in gdb itself): then the
grader sends gdb SIGINT (Ctrl-C), at most `max_interrupts` times, then kills it.

The tests are grading.json's (name, points, the author's hint: what a student
sees); what each checks is in the instructor's key (key.json, never in a
student's install; labs/README.md "The key" has the format):
  "stops":     stops that must be in the stub's stop log, in order
  "output":    lines that must appear, in order, in the evidence (exact after
               masking addresses, or `re:REGEX`); "absent": regexes no evidence
               line may match
  "registers": registers whose values at the stop "at" some evidence shows
  "answer":    Qn, with "value" (a pid, a number, a name: compared as a value)
               or "review" (free text: pre-screened by "patterns"/"any", then
               exported for a person to grade; provisional points until then)
A failing test prints its hint; what the key matched or missed only in the
instructor's verbose report.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from gdbstub.harness.session import prettify
from gdbstub.harness.transcript import find_in_order, mask

from . import ROOT, LabError, sandbox

BEGIN = "==== kthread-lab: student commands begin ===="
END = "==== kthread-lab: student commands end ===="
# `Q1: ...`, `Q1.`, `Q1)`, `**Q1.**`, `**Q1:**`, `## Q1`; and `1.`/`1)` when no line
# says Q (the style of questions.md itself).
QUESTION = re.compile(r"^\s*(?:#+\s*)?(?:\*\*|__)?\s*(Q\d+)\s*[:.)]?\s*(?:\*\*|__)?\s*[:.)]?"
                      r"(?:\s+|$)(.*)$", re.I)
NUMBERED = re.compile(r"^\s*(?:\*\*|__)?(\d+)[.)](?:\*\*|__)?(?:\s+|$)(.*)$")
# Every lab's reference ends before 1.6 M instructions (the boot completes at
# ~1.54 M); idle time after that is cheap (the machine skips to timer ticks).
DEFAULT_DEADLINE = 100_000_000
SIGXCPU_LINE = "Program received signal SIGXCPU"


def parse_answers(text, notes=None):
    """`Q1: ...` (or another QUESTION form) starts answer Q1; following lines
    continue it.  -> {"Q1": text}.  A question answered twice keeps its first
    answer; `notes` (a list) gets a line naming each duplicate."""
    lines = text.splitlines()
    pattern = QUESTION if any(QUESTION.match(l) for l in lines) else NUMBERED
    answers, first = {}, {}
    current = None
    for no, line in enumerate(lines, 1):
        m = pattern.match(line)
        if m:
            q = m.group(1).upper()
            q = q if q.startswith("Q") else "Q" + q
            if q in answers:
                if notes is not None:
                    notes.append(f"{q} is answered twice (lines {first[q]} and {no}): "
                                 f"the first answer is graded")
                current = None
                continue
            current = q
            first[q] = no
            answers[q] = m.group(2)
        elif current is not None:
            answers[current] += "\n" + line
    return {k: v.strip() for k, v in answers.items()}


def check_arguments(commands_text, answers_text, commands_name="FILE", answers_name="ANSWERS"):
    """LabError if the two files look swapped (answers where the commands go)."""
    def looks_like_answers(text):
        return any(QUESTION.match(l) for l in text.splitlines())

    def looks_like_commands(text):
        try:
            return bool(sandbox.parse(text))
        except LabError:
            return False
    if (answers_text and looks_like_answers(commands_text)
            and not looks_like_answers(answers_text) and looks_like_commands(answers_text)):
        raise LabError(f"the files look swapped: {commands_name} holds answers (Q1: ...) and "
                       f"{answers_name} gdb commands; the command file comes first: "
                       f"kthread-lab grade N {answers_name} {commands_name}")
    if looks_like_answers(commands_text) and not looks_like_commands(commands_text):
        raise LabError(f"{commands_name} holds answers (Q1: ...), not gdb commands: "
                       f"kthread-lab grade N COMMANDS.gdb ANSWERS.txt")


class Block:
    """One top-level command of the submission and what gdb printed for it."""

    def __init__(self, command, lines):
        self.command = command        # sandbox.Command
        self.lines = lines
        self.evidence = sandbox.is_evidence(command)


class Replay:
    def __init__(self, transcript, student, timed_out, interrupts, stub_stderr, seconds,
                 deadline=None, blocks=(), stops=()):
        self.transcript = transcript      # all of it, prompts as `(gdb) cmd`, markers removed
        self.student = student            # the student's part (between the markers)
        self.timed_out = timed_out        # wall-clock backstop: gdb interrupted
        self.interrupts = interrupts
        self.deadline = deadline          # the machine's budget (instructions)
        self.deadline_hit = SIGXCPU_LINE in student
        self.stub_stderr = stub_stderr
        self.seconds = seconds
        self.blocks = list(blocks)        # [Block], one per top-level command
        self.stops = list(stops)          # the stub's stop log: [dict]

    @property
    def evidence(self):
        """The lines real debugger commands printed (labs/sandbox.py)."""
        return [line for b in self.blocks if b.evidence for line in b.lines]


def _split(transcript, nonce, commands):
    """-> (student part, [Block]) of a transcript whose student commands are
    each followed by a `NONCE k` marker line (dropped from both)."""
    lines = transcript.splitlines()
    try:
        b = next(i for i, l in enumerate(lines) if l.endswith(BEGIN) or l == BEGIN)
    except StopIteration:
        return "", []
    e = next((i for i, l in enumerate(lines) if i > b and l == END), len(lines))
    part, blocks, current = [], [], []
    marker = re.compile(re.escape(nonce) + r" (\d+)$")
    for line in lines[b + 1:e]:
        m = marker.match(line)
        if m:
            k = int(m.group(1))
            if k == len(blocks) and k < len(commands):
                blocks.append(Block(commands[k], current))
            current = []
        elif nonce not in line and not (line.startswith("(gdb) echo ") and "kthread-lab:" in line):
            part.append(line)
            current.append(line)
    return "\n".join(part) + "\n", blocks


def deadline_of(lab):
    return int(lab.spec.get("deadline", DEFAULT_DEADLINE))


def replay(lab, commands_text, kernel=None, timeout=None, max_interrupts=3, deadline=None):
    """Check `commands_text` (sandbox.Rejected), then run start.gdb and it in real gdb
    against a fresh stub, in a temporary folder removed afterwards."""
    from gdbstub.harness import session
    commands = sandbox.parse(commands_text)
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = ensure_kernel()
    kernel = os.path.join(ROOT, kernel) if not os.path.isabs(kernel) else kernel
    if timeout is None:
        timeout = float(lab.spec.get("timeout", 60))
    if deadline is None:
        deadline = deadline_of(lab)
    nonce = "kthread-lab-" + secrets.token_hex(12)
    body = "".join("\n".join(c.lines) + f"\necho \\n{nonce} {k}\\n\n"
                   for k, c in enumerate(commands))
    stdin = (f"echo {BEGIN}\\n\n" + body
             + f"echo \\n{END}\\n\n"
             + "echo ---- grader: kt-ps at the end ----\\n\nkt-ps\n"
             + "echo ---- grader: bt at the end ----\\n\nbt\n"
             + "echo ---- grader: guest instruction count ----\\n\nmonitor icount\n"
             + "echo ---- grader: the last scheduling-trace events ----\\n\n"
             + "monitor trace tail 30\n"
             + "echo ---- grader: every task's backtrace ----\\n\nmonitor tasks on\n"
             + "info threads\nthread apply all bt\n")
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="kthread-lab-grade-")
    try:
        stop_log = os.path.join(tmp, "stops.jsonl")
        env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp,
                   XDG_DATA_HOME=tmp)
        with session.StubProcess(kernel, lab.stub_args + ["--deadline", str(deadline),
                                                          "--stop-log", stop_log],
                                 once=True) as stub:
            cmd = session.gdb_command(kernel, stub.address(), commands=[
                "set width 0",
                "monitor trace on",            # in memory, for the trailer's `trace tail`
                f"source {os.path.join(ROOT, 'gdb_scripts', 'kt.py')}",
                f"source {os.path.join(ROOT, 'labs', 'kt_lab.py')}",
                f"source {lab.file('start.gdb')}"])
            cmd[1:1] = ["-iex", "set auto-load off", "-iex", "set history save off"]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=tmp, env=env, text=True,
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
        with open(stop_log) as f:
            stops = [json.loads(line) for line in f if line.endswith("\n")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # the port differs from run to run; the transcript should not
    raw = prettify("".join(out_parts)).replace(stub.address(), "127.0.0.1:PORT")
    student, blocks = _split(raw, nonce, commands)
    transcript = "\n".join(l for l in raw.splitlines() if nonce not in l) + "\n"
    return Replay(transcript, student, timed_out, interrupts,
                  stub.stderr.decode(errors="replace"), time.monotonic() - t0, deadline,
                  blocks, stops)


# ---- the machine's evidence: where each stop was ------------------------

class Symbols:
    """Where a pc is (function, file:line) and where a symbol is, from the kernel
    image (binutils' addr2line and nm), cached per kernel; shared by the threads
    of a batch, hence the locks."""
    _cache = {}
    _cache_lock = threading.Lock()

    def __init__(self, kernel):
        self.kernel = kernel
        self.lines = {}
        self.lock = threading.Lock()
        out = subprocess.run(["nm", kernel], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        self.addresses = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                self.addresses.setdefault(parts[2], int(parts[0], 16))
        # addr2line names files under the folder the kernel was built in: kernel_src in a
        # checkout, a folder long gone for a wheel's prebuilt vmlinux
        from elftools.elf.elffile import ELFFile
        with open(kernel, "rb") as f:
            top = next(ELFFile(f).get_dwarf_info().iter_CUs()).get_top_DIE()
            self.comp_dir = top.attributes["DW_AT_comp_dir"].value.decode()

    @classmethod
    def of(cls, kernel):
        key = (kernel, os.path.getmtime(kernel))
        with cls._cache_lock:
            if key not in cls._cache:
                cls._cache[key] = cls(kernel)
            return cls._cache[key]

    def locate(self, pcs):
        """Fill self.lines[pc] = [(function, "dir/file.c:LINE"), ...] for `pcs`: the
        inline chain, innermost first (a stop in an inlined list_del_init() is also
        at its caller's line, as gdb shows it)."""
        with self.lock:
            self._locate(pcs)

    def _locate(self, pcs):
        todo = sorted({pc for pc in pcs if pc not in self.lines})
        if not todo:
            return
        out = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", self.kernel],
                             input="".join(f"{pc:#x}\n" for pc in todo),   # any number of them
                             stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()
        src = self.comp_dir.rstrip(os.sep) + os.sep
        chain = None
        for line in out:
            if re.fullmatch(r"0x[0-9a-f]+", line):
                chain = self.lines.setdefault(int(line, 16), [])
                pending = None
            elif pending is None:
                pending = line
            else:
                where = line.split(" (discriminator")[0]
                chain.append((pending, where[len(src):] if where.startswith(src) else where))
                pending = None


def _stop_matches(want, stop, previous, symbols):
    chain = symbols.lines.get(stop["pc"]) or [("??", "??:0")]
    if not any(want.get("function", func) == func and want.get("line", where) == where
               for func, where in chain):
        return False
    if "reason" in want and want["reason"] != stop["reason"]:
        return False
    if "pid" in want and want["pid"] != stop.get("pid"):
        return False
    if "watch" in want:
        if not stop.get("watch"):
            return False
        if want["watch"] is not True and stop["watch"][1] != symbols.addresses.get(want["watch"]):
            return False
    if "reverse" in want:
        back = (previous is not None and stop.get("icount") is not None
                and stop["icount"] < previous.get("icount", 0))
        if back != want["reverse"]:
            return False
    return True


def _describe(want):
    return " ".join(f"{k}={v}" for k, v in want.items())


def find_stops(wanted, stops, symbols):
    """-> (ok, report, index of the first matching stop per wanted)."""
    symbols.locate(s["pc"] for s in stops)
    pos, report, found = 0, [], []
    for want in wanted:
        for j in range(pos, len(stops)):
            if _stop_matches(want, stops[j], stops[j - 1] if j else None, symbols):
                func, where = (symbols.lines[stops[j]["pc"]] or [("??", "??:0")])[0]
                report.append(f"GOOD    stop {stops[j]['n']}: {func} at {where} "
                              f"(icount {stops[j].get('icount')})")
                found.append(j)
                pos = j + 1
                break
        else:
            return False, report + [f"MISSING a stop with {_describe(want)}"], found
    return True, report, found


def _value_shown(value, lines):
    """Whether one of `lines` shows the 32-bit `value` (hex, or decimal signed/unsigned)."""
    signed = value - (1 << 32) if value & 0x80000000 else value
    pattern = re.compile(r"(?<![\w$])(0x0*%x|%d|%d)(?!\w)" % (value, value, signed), re.I)
    return any(pattern.search(line) for line in lines)


def _mentions_register(block, reg):
    text = block.command.text
    if block.command.word == "info":
        words = text.split()[1:]
        if words and ("registers".startswith(words[0]) or "all-registers".startswith(words[0])):
            return len(words) == 1 or reg in words or f"${reg}" in words
        return False
    return re.search(r"\$" + reg + r"\b", text) is not None


def check_registers(test, replay, symbols):
    ok, report, found = find_stops([test["at"]], replay.stops, symbols)
    if not ok:
        return False, report
    regs = replay.stops[found[0]]["regs"]
    for reg in test["registers"]:
        value = regs[reg]
        if not any(b.evidence and _mentions_register(b, reg) and _value_shown(value, b.lines)
                   for b in replay.blocks):
            return False, report + [f"MISSING a command showing ${reg} = {value:#x}"]
        report.append(f"GOOD    ${reg} = {value:#x} shown")
    return True, report


def check_output(test, lines, context=2):
    """-> (ok, report lines): "output" in order in `lines`, no "absent" match."""
    report, missing, pos, got = find_in_order(test.get("output", []), lines)
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


_NEGATION = re.compile(r"\b(not|never|no|isn't|wasn't|nor)\b|n't\b", re.I)


def check_answer(test, answers):
    """-> (status, report): status True, False or "review" (free text that passed
    the pre-screen: a person grades it)."""
    q = test["answer"]
    text = answers.get(q, "")
    if not text:
        return False, [f"MISSING answer {q}"]
    if "value" in test:
        want = test["value"]
        if isinstance(want, (int, list)):
            got = {int(n, 0) for n in re.findall(r"\b(0x[0-9a-f]+|\d+)\b", text, re.I)}
            ok = got == (set(want) if isinstance(want, list) else {want})
        else:
            ok = re.search(r"(?<![\w])" + re.escape(str(want)) + r"(?![\w])", text) is not None
        if ok and _NEGATION.search(text):
            ok = False
        return ok, [f"{'GOOD' if ok else 'BAD '}    {q}: {text[:200]!r} (the value: {want!r})"]
    missing = [p for p in test.get("patterns", []) if not re.search(p, text, re.I | re.S)]
    anyof = test.get("any", [])
    if anyof and not any(re.search(p, text, re.I | re.S) for p in anyof):
        missing.append("one of " + " | ".join(anyof))
    if missing:
        return False, ([f"BAD     {q}: {text[:200]!r} (off-topic)"]
                       + [f"  wanted {m}" for m in missing])
    if test.get("review"):
        return "review", [f"REVIEW  {q}: passed the pre-screen; a person grades it"]
    return True, [f"GOOD    {q}"]


def run_check(test, replay, answers, symbols):
    if "answer" in test:
        return check_answer(test, answers)
    report = []
    if "stops" in test:
        ok, rep, _ = find_stops(test["stops"], replay.stops, symbols)
        report += rep
        if not ok:
            return False, report
    if "registers" in test:
        ok, rep = check_registers(test, replay, symbols)
        report += rep
        if not ok:
            return False, report
    if "output" in test or "absent" in test:
        ok, rep = check_output(test, replay.evidence)
        report += rep
        if not ok:
            return False, report
    return True, report


class Result:
    def __init__(self, lab, tests, replay, answers=None, notes=()):
        self.lab = lab
        self.notes = list(notes)      # about the answers file: duplicates
        self.tests = tests            # [(test, status, report)]: status True/False/"review"
        self.replay = replay
        self.answers = answers or {}

    @property
    def score(self):
        return sum(t["points"] for t, ok, _ in self.tests if ok)

    @property
    def total(self):
        return sum(t["points"] for t, _, _ in self.tests)

    def failed(self):
        return [t["name"] for t, ok, _ in self.tests if not ok]

    def to_review(self):
        """[(test name, question, answer)] for a person to grade."""
        return [(t["name"], t["answer"], self.answers.get(t["answer"], ""))
                for t, ok, _ in self.tests if ok == "review"]

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
        lines += [f"NOTE: {n}" for n in self.notes]
        for test, ok, rep in self.tests:
            p = test["points"]
            if ok == "review":
                lines.append(f"{test['name']}: REVIEW ({p}/{p} until a person grades the answer)")
            else:
                lines.append(f"{test['name']}: {'OK' if ok else 'FAIL'} ({p if ok else 0}/{p})")
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
    check_arguments(commands_text, answers_text)
    if kernel is None:
        from machine.kbuild import ensure_kernel
        kernel = ensure_kernel()
    r = replay(lab, commands_text, kernel=kernel, timeout=timeout, deadline=deadline)
    symbols = Symbols.of(os.path.join(ROOT, kernel) if not os.path.isabs(kernel) else kernel)
    notes = []
    answers = parse_answers(answers_text or "", notes)
    tests = []
    for student_test in lab.spec["tests"]:
        test = dict(student_test, **checks[student_test["name"]])
        ok, rep = run_check(test, r, answers, symbols)
        tests.append((test, ok, rep))
    return Result(lab, tests, r, answers, notes)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise LabError(f"cannot read {path}: {e.strerror}")
