"""pytest plugin: gdb scripts with golden transcripts as regression tests.

Installed with the package (entry point `pytest11`), so `pytest DIR` collects
every `test_*.gdb` in DIR: a gdb command file whose header may hold

    # stub: --tasks --append kthread_bug=lost_complete --kernel path/to/vmlinux
    # mask: jiffies=\\d+

(`stub:` options go to kthread-stub; `--kernel` is a vmlinux, or a kernel
tree with a Makefile to build, relative to the script's folder; `mask:` is a
regex whose matches are hidden on both sides, as addresses of 5+ hex digits
always are).  Real gdb runs the script against a fresh stub of its own on a
pipe (no ports, so tests run in parallel under pytest-xdist) and the
transcript must equal `test_x.gdb.out` beside it, line by line; a difference
fails with GOOD/BAD/MISSING context naming the command whose output differs.
`pytest --gdb-update` writes the goldens (review the diff: a golden claims
that this output is right).  The kernel of a test is, first found: its
header's `--kernel`, `--gdb-kernel` on the command line, the package's own
kernel (machine.kbuild.ensure_kernel); each is built or checked once per
session.

For assertions that are not transcripts, the `gdb_session` fixture yields a
live gdbstub.harness.mi.GdbSession (`.cmd()`, `.expect()`, `.stop`); its stub options
come from `@pytest.mark.stub("--tasks ...")`, the same syntax as a header.
"""

import os
import re
import shlex
import tempfile

import pytest

from . import session
from .transcript import TranscriptMismatch, mask, match_lines

SHOWN_STUB = "| kthread-stub --stdio"


def pytest_addoption(parser):
    group = parser.getgroup("kthread-gdb", "gdb scripts with golden transcripts (test_*.gdb)")
    group.addoption("--gdb-update", action="store_true",
                    help="write each test_*.gdb's golden transcript (.gdb.out) from this run")
    group.addoption("--gdb-kernel", metavar="PATH",
                    help="kernel for scripts whose header names none: a vmlinux, or a kernel "
                         "tree with a Makefile (built once per session)")
    group.addoption("--gdb-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="longest a gdb script may run (default %(default)s)")


def pytest_configure(config):
    config.addinivalue_line("markers", "stub(options): kthread-stub options for gdb_session, "
                                       "as in a test_*.gdb header")
    config.pluginmanager.register(_Goldens(config), "kthread-gdb-goldens")


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".gdb" and file_path.name.startswith("test_"):
        return GdbScript.from_parent(parent, path=file_path)
    return None


class Header:
    """The options in a script's leading comment lines."""

    def __init__(self, text, where=""):
        self.stub_args, self.masks, self.kernel = [], [], None
        for line in text.splitlines():
            if line.strip() and not line.startswith("#"):
                break
            m = re.match(r"#\s*(stub|mask):\s?(.*)$", line)
            if not m:
                continue
            if m.group(1) == "mask":
                try:
                    self.masks.append(re.compile(m.group(2).strip()))
                except re.error as e:
                    raise ScriptError(f"{where}bad mask {m.group(2).strip()!r}: {e}") from None
            else:
                self.stub_args += shlex.split(m.group(2))
        args, self.stub_args = self.stub_args, []
        while args:
            a = args.pop(0)
            if a == "--kernel" or a.startswith("--kernel="):
                if "=" in a:
                    self.kernel = a.split("=", 1)[1]
                elif args:
                    self.kernel = args.pop(0)
                else:
                    raise ScriptError(f"{where}--kernel needs a path")
            else:
                self.stub_args.append(a)


class ScriptError(Exception):
    """A test_*.gdb that cannot run (bad header, kernel missing or not building)."""


class GoldenMissing(Exception):
    pass


def _kernel_cache(config):
    # kept on pytest's config object, which has no slot for it
    if not hasattr(config, "_kthread_kernels"):
        config._kthread_kernels = {}
    return config._kthread_kernels


def resolve_kernel(config, spec, base):
    """The vmlinux for `spec` (None: --gdb-kernel, else the package's kernel),
    built or checked once per session; a relative spec is taken from `base`."""
    if spec is None:
        spec = config.getoption("gdb_kernel")
        base = config.invocation_params.dir
    key = None if spec is None else os.path.abspath(os.path.join(str(base), spec))
    cache = _kernel_cache(config)
    if key not in cache:
        cache[key] = _prepare_kernel(key)
    result = cache[key]
    if isinstance(result, ScriptError):
        raise result
    return result


def _prepare_kernel(path):
    from machine import KernelImageError
    from machine import kbuild

    try:
        if path is None:
            return os.path.abspath(kbuild.ensure_kernel())
        if os.path.isdir(path):
            return kbuild.build(path)
        if not os.path.isfile(path):
            return ScriptError(f"kernel {path} does not exist")
        with open(path, "rb") as f:
            head = f.read(20)
        # ELF, 32-bit, machine EM_386
        if head[:5] != b"\x7fELF\x01" or int.from_bytes(head[18:20], "little") != 3:
            return ScriptError(f"kernel {path} is not an i386 ELF image")
        return path
    except KernelImageError as e:
        return ScriptError(str(e))


class GdbScript(pytest.File):
    def collect(self):
        yield GdbTranscript.from_parent(self, name=self.path.stem)


class GdbTranscript(pytest.Item):
    """One test_*.gdb run against its golden transcript."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.golden = self.path.with_name(self.path.name + ".out")

    def transcript(self):
        """Run the script; (the transcript lines as a golden shows them, the header)."""
        header = Header(self.path.read_text(), where=f"{self.path.name}: ")
        kernel = resolve_kernel(self.config, header.kernel, self.path.parent)
        fd, err = tempfile.mkstemp(prefix="kthread-stub-", suffix=".err")
        os.close(fd)
        try:
            text = session.run_piped(str(self.path), kernel, header.stub_args, err,
                                     cwd=str(self.config.rootpath),
                                     timeout=self.config.getoption("gdb_timeout"))
            with open(err, errors="replace") as f:
                self.stub_output = f.read()
        finally:
            os.unlink(err)
        # Where the stub and the kernel live is not part of the result.
        text = text.replace(session.stub_pipe(kernel, header.stub_args, err),
                            " ".join([SHOWN_STUB, *map(shlex.quote, header.stub_args)]))
        text = text.replace(kernel, os.path.basename(kernel))
        text = text.replace(str(self.path), self.path.name)
        return [mask(line, header.masks) for line in text.splitlines()], header

    def runtest(self):
        self.stub_output = ""
        lines, header = self.transcript()
        if self.config.getoption("gdb_update"):
            new = "\n".join(lines) + "\n"
            old = self.golden.read_text() if self.golden.exists() else None
            if new != old:
                self.golden.write_text(new)
            self.user_properties.append(("gdb-golden", "unchanged" if new == old else "written"))
            return
        if not self.golden.exists():
            raise GoldenMissing("\n".join(lines))
        expected = self.golden.read_text().splitlines()
        match_lines(expected, lines, masks=header.masks)

    def repr_failure(self, excinfo):
        e = excinfo.value
        name = self.path.name
        if isinstance(e, TranscriptMismatch):
            # the transcript lines matched before the difference, when the matcher set them
            line = self.script_line(getattr(e, "matched", []))
            at = f"first differing command: {name}:{line[0]}: {line[1]}\n" if line else ""
            return (f"{name}: {e}\n{at}"
                    f"(golden: {self.golden.name}; if the new output is right: "
                    f"pytest --gdb-update {name})" + self._stub_tail(errors_only=True))
        if isinstance(e, GoldenMissing):
            return (f"{name}: no golden transcript {self.golden.name} yet; this run's "
                    f"transcript, to review:\n{e}\n"
                    f"(if it is right: pytest --gdb-update {name})")
        if isinstance(e, (ScriptError, session.SessionError)):
            return f"{name}: {e}" + self._stub_tail()
        return super().repr_failure(excinfo)

    def script_line(self, matched):
        """(number, text) of the script line whose command's output differs, when
        the commands gdb echoed so far are the script's own lines, one for one
        (not so once a script defines commands or sources another)."""
        echoed = [l[len("(gdb) "):] for l in matched if l.startswith("(gdb) ")]
        if echoed and echoed[0].startswith("target remote"):
            echoed = echoed[1:]     # the runner's connection, not the script's
        script = [(n, l.strip()) for n, l in enumerate(self.path.read_text().splitlines(), 1)
                  if l.strip() and not l.lstrip().startswith("#")]
        if not echoed or len(echoed) > len(script):
            return None
        if any(e.rstrip() != s for e, (_, s) in zip(echoed, script)):
            return None
        return script[len(echoed) - 1]

    def _stub_tail(self, errors_only=False):
        """The stub's last words (the kernel console and its messages)."""
        if errors_only and not re.search(r"^(kthread-stub:|Traceback)", self.stub_output, re.M):
            return ""
        tail = self.stub_output.strip().splitlines()[-5:]
        return "\nstub output (last lines):\n" + "\n".join(tail) if tail else ""

    def reportinfo(self):
        return self.path, None, f"gdb script {self.path.name}"


class _Goldens:
    """Counts the goldens --gdb-update wrote (also from xdist workers' reports)."""

    def __init__(self, config):
        self.config = config
        self.counts = {"written": 0, "unchanged": 0}

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            for key, value in report.user_properties:
                if key == "gdb-golden":
                    self.counts[value] += 1

    def pytest_terminal_summary(self, terminalreporter):
        # xdist sets workerinput on its workers' config: only the controller reports
        if self.config.getoption("gdb_update") and not hasattr(self.config, "workerinput"):
            terminalreporter.write_line(
                f"gdb goldens: {self.counts['written']} written, "
                f"{self.counts['unchanged']} unchanged")


@pytest.fixture
def gdb_session(request):
    """A live gdb (over MI) on a fresh stub: gdbstub.harness.mi.GdbSession."""
    from .mi import GdbSession

    marker = request.node.get_closest_marker("stub")
    header = Header("# stub: " + " ".join(marker.args) if marker else "")
    kernel = resolve_kernel(request.config, header.kernel, request.config.invocation_params.dir)
    with GdbSession(kernel, header.stub_args, cwd=str(request.config.rootpath)) as s:
        yield s
