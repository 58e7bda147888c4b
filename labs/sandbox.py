"""What a graded command file may run, decided before the run.

A submission is replayed by the grader's gdb, as the grader's user: a command
that touches the host (`shell`, `python`, `source`, `dump`, `set logging`,
`target`, ...) is refused, with one line naming the command and its line,
before anything runs.  gdb accepts unique abbreviations (`sh`, `py`, `so`), so
a word is allowed only if it is a command or alias of ALLOWED, or a prefix of
one and of no refused command; anything else is refused too.

`parse` also splits the file into top-level commands (a block such as
`define ... end` counts as one) and says which of them print evidence: output
counts only if a real debugger command printed it (EVIDENCE), never `echo`,
`printf`, `output`, a command the submission defined, or `print` of a constant.
"""
import re

from . import LabError

# Debugger commands a submission may use; True: its output is evidence.
ALLOWED = {
    # running the machine, forwards and backwards
    "continue": True, "next": True, "step": True, "stepi": True, "nexti": True,
    "finish": True, "until": True, "advance": True, "jump": True,
    "reverse-continue": True, "reverse-next": True, "reverse-step": True,
    "reverse-stepi": True, "reverse-nexti": True, "reverse-finish": True,
    # breakpoints and watchpoints
    "break": True, "tbreak": True, "hbreak": True, "thbreak": True, "rbreak": True,
    "watch": True, "rwatch": True, "awatch": True, "delete": True, "clear": True,
    "disable": True, "enable": True, "condition": True, "ignore": True, "commands": False,
    # looking at the machine
    "backtrace": True, "where": True, "frame": True, "up": True, "down": True,
    "select-frame": True, "print": True, "inspect": True, "x": True, "info": True,
    "ptype": True, "whatis": True, "disassemble": True, "display": True, "undisplay": True,
    "thread": True, "monitor": True, "show": True, "taas": True, "tfaas": True, "faas": True,
    "kt-bt": True, "kt-bt-all": True, "kt-completions": True, "kt-dmesg": True,
    "kt-kthreads": True, "kt-ps": True, "kt-runq": True, "kt-stop-hook": False,
    # no evidence: they print what they are told to, or source text
    "echo": False, "printf": False, "output": False, "call": False, "list": False,
    "search": False, "forward-search": False, "reverse-search": False,
    "help": False, "apropos": False, "set": False,
    "define": False, "if": False, "while": False, "end": False,
    "else": False, "silent": False,
}
ALIASES = {
    "c": "continue", "cont": "continue", "fg": "continue", "n": "next", "s": "step",
    "si": "stepi", "ni": "nexti", "fin": "finish", "u": "until", "j": "jump",
    "rc": "reverse-continue", "rn": "reverse-next", "rs": "reverse-step",
    "rsi": "reverse-stepi", "rni": "reverse-nexti", "b": "break", "br": "break",
    "bre": "break", "brea": "break", "tb": "tbreak", "d": "delete", "dis": "disable",
    "disa": "disable", "en": "enable", "bt": "backtrace", "f": "frame", "p": "print",
    "i": "info", "l": "list", "disas": "disassemble", "t": "thread", "wa": "watch",
}
# Refused, with why (also their abbreviations: `sh`, `py`, `so`...).
REFUSED = {
    **{c: "runs host commands" for c in (
        "shell", "pipe", "make", "python", "python-interactive", "pi", "py", "guile",
        "guile-repl", "gu", "gr", "compile", "expression", "interpreter-exec", "new-ui",
        "edit", "jit-reader-load", "jit-reader-unload", "explore", "tui", "layout", "focus",
        "refresh", "winheight")},
    **{c: "runs a command this check cannot see" for c in (
        "eval", "with", "w", "alias", "document", "define-prefix")},
    **{c: "reads or writes host files" for c in (
        "source", "dump", "restore", "append", "save", "generate-core-file", "gcore",
        "remote", "file", "exec-file", "symbol-file", "add-symbol-file",
        "add-symbol-file-from-memory", "core-file", "core", "load", "directory",
        "record", "tsave", "cd", "pwd", "sharedlibrary", "nosharedlibrary")},
    **{c: "changes the debugged target" for c in (
        "target", "attach", "detach", "disconnect", "run", "r", "start", "starti", "kill",
        "k", "quit", "q", "maintenance", "mt")},
    "dprintf": "prints what it is told to at a breakpoint",
}
SET_ALLOWED = ("var", "variable", "pagination", "confirm", "width", "height", "print",
               "p", "pr", "listsize", "disassembly-flavor", "scheduler-locking",
               "can-use-hw-watchpoints", "output-radix", "input-radix", "radix",
               "step-mode", "backtrace", "style", "language", "disassemble-next-line",
               "max-value-size", "verbose", "breakpoint", "trace-commands")
BLOCKS = ("define", "while", "if", "commands")
REGISTERS = set("eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs pc sp fp ps "
                "ax bx cx dx si di bp al ah bl bh cl ch dl dh cr0 cr2 cr3 cr4".split())
C_WORDS = set("sizeof int char short long unsigned signed void struct union enum const "
              "volatile float double".split())
_WORD = re.compile(r"\s*([A-Za-z][\w-]*|[!|])")


class Rejected(LabError):
    """A command a graded submission may not run: `line N: ...`."""


class Command:
    def __init__(self, line, text, word):
        self.line = line          # 1-based line in the file
        self.text = text          # the first line, stripped
        self.word = word          # the full command name (ALLOWED), or a defined name
        self.lines = [text]       # all its lines (a block's up to its `end`)


def _resolve(word):
    """The ALLOWED name `word` means, or (None, why)."""
    if word in ALLOWED:
        return word, None
    if word in ALIASES:
        return ALIASES[word], None
    if word in REFUSED:
        return None, REFUSED[word]
    refused = [r for r in REFUSED if r.startswith(word)]
    if refused:
        return None, f"abbreviates `{refused[0]}`, which {REFUSED[refused[0]]}"
    allowed = [a for a in ALLOWED if a.startswith(word)]
    if allowed:
        return allowed[0], None
    return None, "is not a debugger command"


def _check_line(no, text, defined, in_commands=False):
    """-> the resolved command name of one line (raises Rejected)."""
    if "$_shell" in text:
        raise Rejected(f"line {no}: `{text}`: $_shell runs host commands; not allowed in a "
                       "graded submission")
    m = _WORD.match(text)
    if not m:
        raise Rejected(f"line {no}: `{text}`: not a debugger command")
    word = m.group(1)
    if word == "!":
        raise Rejected(f"line {no}: `!`: runs host commands; not allowed in a graded submission")
    if word == "|":
        raise Rejected(f"line {no}: `|`: pipes to host commands; not allowed in a graded "
                       "submission")
    if word in defined:
        if in_commands:
            raise Rejected(f"line {no}: `{word}`: a defined command in a breakpoint's "
                           "`commands` could print anything; not allowed")
        return word
    name, why = _resolve(word)
    if name is None:
        raise Rejected(f"line {no}: `{word}` {why}; not allowed in a graded submission")
    rest = text[m.end():].strip()
    if in_commands and not ALLOWED[name] and name not in ("end", "silent", "if", "else",
                                                          "while", "set"):
        raise Rejected(f"line {no}: `{word}` in a breakpoint's `commands` could print "
                       "anything at a stop; not allowed in a graded submission")
    if name == "set":
        sub = rest.split(None, 1)[0] if rest else ""
        if not (sub.startswith("$") or any(s == sub for s in SET_ALLOWED)):
            raise Rejected(f"line {no}: `set {sub}` is not allowed in a graded submission "
                           "(to change a variable: set var NAME = VALUE)")
    elif name == "monitor":
        words = rest.split()
        if words[:1] == ["trace"] and len(words) > 2 and words[1] != "tail":
            raise Rejected(f"line {no}: `monitor trace {words[1]} {words[2]}`: writes a host "
                           "file; not allowed in a graded submission")
    elif name in ("thread", "frame", "taas", "tfaas", "faas"):
        inner = _applied(name, rest)
        if inner:
            _check_line(no, inner, defined, in_commands)
    elif name == "define":
        new = rest.split()[0] if rest else ""
        if (not new or new.startswith(("hook-", "hookpost-", "kt-")) or new in ALLOWED
                or new in ALIASES or new in REFUSED or any(a.startswith(new) for a in ALLOWED)):
            raise Rejected(f"line {no}: `define {new}`: redefines a gdb command or hook; not "
                           "allowed in a graded submission (pick a new name)")
        defined.add(new)
    return name


def _applied(name, rest):
    """The command `thread apply ...`/`frame apply ...`/`taas ...` runs, or ''."""
    words = rest.split()
    if name in ("thread", "frame"):
        if not words or not "apply".startswith(words[0]):
            return ""
        words = words[1:]
        while words and (re.fullmatch(r"all|level|[\d.$*-]+\w*|-\w+|--", words[0])):
            words = words[1:]
    else:
        while words and words[0].startswith("-"):
            words = words[1:]
    return " ".join(words)


def _lines(text):
    """(number, line) with gdb's `\\` line continuations joined."""
    pending, first = "", None
    for no, raw in enumerate(text.splitlines(), 1):
        if raw.endswith("\\"):
            pending += raw[:-1]
            first = first or no
            continue
        yield (first or no), (pending + raw).strip()
        pending, first = "", None
    if pending:
        yield first, pending.strip()


def parse(text):
    """-> [Command] at top level; raises Rejected for the first refused line.
    Every line is checked as a command, a block's body too: if gdb refuses the
    block's first line (`commands` with no breakpoint), it runs the body."""
    commands = []
    defined = set()
    stack = []          # open blocks: [Command, kind]
    for no, line in _lines(text):
        if not line or line.startswith("#"):
            continue
        in_commands = any(kind == "commands" for _, kind in stack)
        name = _check_line(no, line, defined, in_commands)
        if stack:
            stack[0][0].lines.append(line)
        if name == "end":
            if not stack:
                raise Rejected(f"line {no}: `end` without a block to end")
            cmd, _ = stack.pop()
            if not stack:
                commands.append(cmd)
            continue
        if name in BLOCKS:
            cmd = Command(no, line, name)
            stack.append([cmd, name])
            continue
        if not stack:
            commands.append(Command(no, line, name))
    if stack:
        cmd, kind = stack[-1]
        raise Rejected(f"line {cmd.line}: `{cmd.text}` has no `end`")
    return commands


def is_evidence(cmd):
    """Whether what `cmd` printed may count for a test."""
    if not ALLOWED.get(cmd.word, False):
        return False
    m = _WORD.match(cmd.text)
    rest = cmd.text[m.end():]
    if cmd.word in ("print", "inspect"):
        return _mentions_machine(re.sub(r"^/\w+", "", rest.strip()))
    if cmd.word in ("thread", "frame", "taas", "tfaas", "faas"):
        inner = _applied(cmd.word, rest.strip())
        if inner:
            return is_evidence(Command(cmd.line, inner, _resolve(_WORD.match(inner).group(1))[0]
                                       or inner))
    return True


def _mentions_machine(expr):
    """True if `expr` reads a register, a variable or memory, not only constants,
    strings and gdb's own $-variables."""
    if re.search(r"[\"']", expr):
        return False
    expr = re.sub(r"\b\d\w*", "", expr)          # numbers, 0x... included
    for m in re.finditer(r"(\$?)([A-Za-z_]\w*)", expr):
        dollar, name = m.groups()
        if (name in REGISTERS) if dollar else (name not in C_WORDS):
            return True
    return re.search(r"\*\s*\(", expr) is not None     # *(type *) ADDRESS reads memory
