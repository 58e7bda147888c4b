"""Real gdb -> real stub -> real Machine, on a tiny C kernel built here.

Independent of kernel_src (which has its own end-to-end tests): a two-file
multiboot kernel with debug info, linked at 1 MiB.  Skipped with a reason
when gdb, gcc/ld or the machine (unicorn) are missing.
"""

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from gdbstub.harness.session import StubProcess, gdb_settings

ROOT = Path(__file__).resolve().parent.parent

ENTRY_S = r"""
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0x00000003
    .long -(0x1BADB002 + 0x00000003)
    .text
    .globl _start
_start:
    movl $stack_top, %esp
    xorl %ebp, %ebp
    call kmain
1:  hlt
    jmp 1b
    .bss
    .align 16
stack: .skip 8192
stack_top:
    .section .note.GNU-stack, "", @progbits
"""

KMAIN_C = r"""
volatile int counter;

static inline void outb(unsigned short port, unsigned char v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

__attribute__((noinline)) int add(int a, int b)
{
	return a + b;
}

__attribute__((noinline)) void say(const char *s)
{
	while (*s)
		outb(0x3f8, *s++);
}

__attribute__((noinline)) void spin(void)
{
	for (;;)
		counter = add(counter, 1);
}

void kmain(void)
{
	int x = add(2, 3);
	counter = x;
	say("tiny: hello\n");
	spin();
}
"""

LDS = """
ENTRY(_start)
SECTIONS {
    . = 0x100000;
    .multiboot : { *(.multiboot) }
    .text : { *(.text*) }
    .rodata : { *(.rodata*) }
    .data : { *(.data*) }
    .bss : { *(.bss*) *(COMMON) }
}
"""


def _missing():
    for tool in ("gdb", "gcc", "ld"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        import machine  # noqa: F401
        machine.Machine
    except Exception as e:  # the machine or unicorn is not there
        return f"the machine is not importable: {e}"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    (d / "entry.S").write_text(ENTRY_S)
    (d / "kmain.c").write_text(KMAIN_C)
    (d / "link.lds").write_text(LDS)
    cflags = ["-m32", "-O2", "-g", "-gdwarf-4", "-fno-pic", "-ffreestanding",
              "-fno-stack-protector", "-fno-omit-frame-pointer"]
    subprocess.run(["gcc", *cflags, "-c", "entry.S", "kmain.c"], cwd=d, check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-T", "link.lds", "-o", "tiny.elf",
                    "entry.o", "kmain.o"], cwd=d, check=True, capture_output=True)
    return d / "tiny.elf"


def stopped(stub):
    """Stop the stub; (guest console, stub stderr) as text."""
    stub.close()
    return stub.console.decode(errors="replace"), stub.stderr.decode(errors="replace")


def gdb_cmd(kernel, addr, *commands):
    cmd = ["gdb", "-q", "-nx", "-batch", *gdb_settings(), str(kernel),
           "-ex", f"target remote {addr}"]
    for c in commands:
        cmd += ["-ex", c]
    return cmd


def run_gdb(kernel, addr, *commands):
    r = subprocess.run(gdb_cmd(kernel, addr, *commands), capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL, cwd=ROOT)
    return r.stdout + r.stderr


def test_break_bt_step_finish_on_the_machine(tiny):
    s = StubProcess(tiny, once=True)
    out = run_gdb(tiny, s.address(),
                  "info registers eip", "break add", "continue", "bt", "x/2i $pc",
                  "stepi", "p $pc", "continue", "finish", "p counter", "next", "next",
                  "p counter", "detach")
    console, err = stopped(s)
    assert "Architecture rejected" not in out
    assert "_start () at entry.S:" in out
    assert "Breakpoint 1, add (a=2, b=3) at kmain.c:" in out
    assert re.search(r"#1  0x[0-9a-f]+ in kmain \(\) at kmain.c:\d+", out)
    assert "=> 0x100020 <add>:" in out
    assert "<add+1>" in out
    assert "Breakpoint 1, add (a=5, b=1)" in out
    assert "Value returned is $2 = 6" in out
    assert "$3 = 5" in out and "$4 = 6" in out
    assert "tiny: hello" in console  # the UART reaches the stub's stdout
    assert "session ended (detached)" in err


def test_ctrl_c_and_reconnect_on_the_machine(tiny):
    s = StubProcess(tiny)
    try:
        p = subprocess.Popen(gdb_cmd(tiny, s.address(), "continue", "p counter > 100", "detach"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        # The guest prints before it spins; the slice it printed in runs on
        # for many iterations of spin() before the stub reads the interrupt.
        s.wait_for("tiny: hello", "console")
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        assert "Program received signal SIGINT, Interrupt." in out
        assert "$1 = 1" in out
        # Reconnect: the machine is where the first gdb left it.
        out2 = run_gdb(tiny, s.address(), "p counter > 100", "bt 1", "detach")
        assert "$1 = 1" in out2
        assert re.search(r"#0  .*(add|spin)", out2)
    finally:
        s.close()


# ------------------------------------------------ the real kernel (kernel_src)


@pytest.mark.e2e
def test_kernel_breakpoints_before_paging_and_ctrl_c(kernel):
    """Z0 on higher-half addresses while paging is off fires once paging maps them;
    hbreak works; Ctrl-C stops the idle kernel with SIGINT (the boot ends while
    the second gdb continues, not while no gdb is attached)."""
    s = StubProcess(ROOT / kernel, ["--halt-on-detach"])
    try:
        out = run_gdb(ROOT / kernel, s.address(), "p $pc", "break start_kernel", "continue",
                      "hbreak kthreadd", "continue", "bt", "info threads", "delete", "detach")
        assert "$1 = (void (*)()) 0x1000010" in out  # held at the multiboot entry
        assert "Breakpoint 1, start_kernel () at init/main.c:" in out
        assert "Breakpoint 2, kthreadd (unused=0x0) at kernel/kthread.c:192" in out
        assert re.search(r"#1  0x[0-9a-f]{8} in kernel_thread_helper \(\) at "
                         r"arch/x86/kernel/entry_32.S:1000", out)
        assert "#2" not in out
        assert "Thread 1 (CPU#0) kthreadd" in out.replace("  ", " ")
        p = subprocess.Popen(gdb_cmd(ROOT / kernel, s.address(), "continue", "p jiffies > 0", "detach"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        s.wait_for("init: boot complete", "console")  # jiffies ticked; the kernel idles
        p.send_signal(signal.SIGINT)
        out2, _ = p.communicate(timeout=60)
        assert "Program received signal SIGINT, Interrupt." in out2
        assert "$1 = 1" in out2
    finally:
        console, err = stopped(s)
    assert "init: boot complete" in console
    assert err.count("gdb connected") == 2
