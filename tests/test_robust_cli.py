"""Bad input to kthread-stub's command line, and what it exposes.

Every mistake a user can make on the command line gets one line on stderr
saying what is wrong and what to do, exit status 2, never a traceback.  The
stub listens on 127.0.0.1; any other --host needs --allow-remote (then with a
warning), and gdb gets no host file access through it (no vFile).
"""
import os
import shutil
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import soak  # noqa: E402
from gdbstub.harness.session import StubProcess, stub_command  # noqa: E402


def stub(*args, timeout=60):
    return subprocess.run(stub_command(None, args), cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("kthread-stub: "), line
    for w in words:
        assert w in line, (w, line)
    return line


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory, kernel):
    d = tmp_path_factory.mktemp("images")
    real = open(os.path.join(ROOT, kernel), "rb").read()
    images = {}

    def put(name, data):
        p = d / name
        p.write_bytes(data)
        images[name] = str(p)

    put("truncated", real[:3000])
    from elftools.elf.elffile import ELFFile
    with open(os.path.join(ROOT, kernel), "rb") as f:
        loads = [g for g in ELFFile(f).iter_segments()
                 if g["p_type"] == "PT_LOAD" and g["p_filesz"]]
        cut = loads[-1]["p_offset"] + loads[-1]["p_filesz"] // 2
    put("truncated_segment", real[:cut])
    put("tiny", real[:40])
    put("empty", b"")
    put("text", b"this is not a kernel\n")
    bad = bytearray(real)
    bad[0x1C:0x20] = b"\xff\xff\xff\x7f"            # e_phoff far past the end
    put("bad_phoff", bytes(bad))
    arm = bytearray(real)
    arm[0x12] = 0x28                                 # e_machine = EM_ARM
    put("arm", bytes(arm))
    (d / "adir").mkdir()
    images["directory"] = str(d / "adir")
    images["missing"] = str(d / "does-not-exist")
    return images


@pytest.mark.parametrize("name, words", [
    ("missing", ["not found", "--kernel"]),
    ("directory", ["not found"]),
    ("empty", ["not an ELF"]),
    ("text", ["not an ELF"]),
    ("tiny", []),
    ("truncated", []),
    ("truncated_segment", ["truncated", "make -C kernel_src"]),
    ("bad_phoff", ["corrupt", "make -C kernel_src"]),
    ("arm", ["EM_ARM", "i386"]),
])
def test_bad_kernel_image(bad_images, name, words):
    one_line_error(stub("--kernel", bad_images[name], "--port", "0", "--once"), *words)


def test_x86_64_elf():
    exe = shutil.which("true")
    with open(exe, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF" or head[4] != 2 or head[18] != 62:
        pytest.skip(f"{exe} is not an x86-64 ELF here")
    one_line_error(stub("--kernel", exe, "--port", "0"), "64-bit", "i386")


@pytest.mark.parametrize("args, words", [
    (["--bogus"], ["unrecognized arguments: --bogus", "--help"]),
    (["--port", "abc"], ["bad port", "0-65535"]),
    (["--port", "70000"], ["bad port", "0-65535"]),
    (["--port", "-1"], ["bad port"]),
    (["--slice", "0"], ["bad slice"]),
    (["--host"], ["expected one argument"]),
    (["--stdio", "extra"], ["unrecognized arguments: extra"]),
    (["--append", "x" * 2000], ["kernel command line", "at most 1023"]),
    (["--debug-rsp", "/nonexistent/dir/rsp.log"], ["cannot write the packet log", "writable"]),
    (["--append", "oops=\u00e9"], ["kernel command line", "ASCII"]),
    (["--history-mem", "infG"], ["bad memory size 'infG'"]),
    (["--history-mem", "1e400K"], ["bad memory size"]),
    (["--deadline", "1e400K"], ["bad instruction count '1e400K'"]),
    (["--deadline", "infM"], ["bad instruction count"]),
    (["--trace-dir", "/nonexistent/dir"], ["bad --trace-dir", "writable folder"]),
    (["--cpus", "0"], ["--cpus", "choose from 1, 2, 3, 4"]),
    (["--cpus", "99999999999999999999"], ["--cpus", "choose from 1, 2, 3, 4"]),
    (["--cpus", "/etc/passwd"], ["--cpus", "invalid int value"]),
    (["--quantum", "0"], ["bad quantum '0'", "positive integer"]),
    (["--quantum", "-5"], ["bad quantum", "positive integer"]),
    (["--quantum", "/etc/passwd"], ["bad quantum", "positive integer"]),
    (["--sched-seed", "abc"], ["bad seed 'abc'", "non-negative integer"]),
    (["--sched-seed", "1e400"], ["bad seed", "non-negative integer"]),
])
def test_bad_options(kernel, args, words):
    one_line_error(stub("--kernel", kernel, *args), *words)


@pytest.mark.parametrize("option, value, words", [
    ("--sched-seed", "-1", "bad seed '-1': give a non-negative integer"),
    ("--sched-seed", "/etc/passwd", "bad seed '/etc/passwd': give a non-negative integer"),
    ("--quantum", "0", "bad quantum '0': give a positive integer"),
    ("--quantum", "-5", "bad quantum '-5': give a positive integer"),
])
def test_both_command_lines_check_cpu_options_alike(kernel, option, value, words):
    """python -m machine and kthread-stub share one validator (machine/options.py):
    the same value is refused by both, in the same words (the machine's CLI took
    --sched-seed -1 and booted)."""
    one_line_error(stub("--kernel", kernel, option, value), f"argument {option}: {words}")
    r = subprocess.run([sys.executable, "-m", "machine", "--kernel", kernel, "--cpus", "2",
                        "--count", "1000", option, value], cwd=ROOT, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    assert r.stderr.splitlines()[-1] == f"python -m machine: error: argument {option}: {words}"


def test_port_in_use(kernel):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        line = one_line_error(stub("--kernel", kernel, "--port", str(port)), "port in use",
                              "--port")
    assert str(port) in line


def test_unresolvable_host(kernel):
    r = stub("--kernel", kernel, "--port", "0", "--host", "no-such-host.invalid")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("kthread-stub: cannot listen on")


def _listening_address(port):
    """Local address of the LISTEN socket on `port` (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            addr, p = fields[1].split(":")
            if int(p, 16) == port and fields[3] == "0A":
                return socket.inet_ntoa(bytes.fromhex(addr)[::-1])
    return None


@pytest.mark.parametrize("host", ["0", "0.0.0.0", "::", "", "0x0", "0.0"])
def test_any_other_address_needs_allow_remote(kernel, host):
    """Every spelling of 'all interfaces' (resolved as the stub binds it)."""
    one_line_error(stub("--kernel", kernel, "--port", "0", "--host", host),
                   "not loopback", "--allow-remote")


def test_binds_loopback_by_default_and_warns_when_remote_is_allowed(kernel):
    with StubProcess(kernel) as s:
        assert _listening_address(s.port) == "127.0.0.1"
        assert b"warning" not in s.output()
    with StubProcess(kernel, ("--host", "0.0.0.0", "--allow-remote")) as s:
        assert _listening_address(s.port) == "0.0.0.0"
        out = s.output().decode()
        assert "warning: listening on 0.0.0.0: anyone who can reach it controls" in out


def test_no_vfile_live(kernel):
    with StubProcess(kernel) as s:
        c = soak.Client(s.address())
        assert b"vFile" not in c.ask(b"qSupported:multiprocess+;swbreak+;vContSupported+")
        for p in (b"vFile:setfs:0", b"vFile:open:2f6574632f706173737764,0,0",
                  b"vFile:pread:0,1000,0", b"vFile:readlink:2f70726f632f73656c662f657865",
                  b"qXfer:exec-file:read::0,fff"):
            assert c.ask(p) == b"", p
        c.close()


def test_a_bad_clock_in_the_environment_is_named(monkeypatch, kernel):
    """KTHREAD_CLOCK takes icount or block: anything else is one line, from
    the stub and from python -m machine, not a 'corrupt kernel'."""
    monkeypatch.setenv("KTHREAD_CLOCK", "fast")
    one_line_error(stub("--kernel", kernel), "KTHREAD_CLOCK must be icount or block", "'fast'")
    r = subprocess.run([sys.executable, "-m", "machine", "--kernel", kernel], cwd=ROOT,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip() == "machine: KTHREAD_CLOCK must be icount or block, not 'fast'"
