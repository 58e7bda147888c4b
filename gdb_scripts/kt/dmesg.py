"""kt-dmesg: the kernel log buffer (kernel_src/kernel/printk.c).

log_buf is a ring of log_buf_len bytes (a power of two); log_end counts
every byte ever logged, so the buffer holds the last min(log_end,
log_buf_len) bytes and the oldest of them is at log_end & (len - 1) once
the ring has wrapped.
"""
import gdb

from kt import utils, walkers


def read_log():
    """The kernel log as bytes, oldest first (kt.walkers.log_bytes, the
    stub's `monitor dmesg` reader too)."""
    log_buf = utils.lookup_variable("log_buf", "the printk ring buffer")
    log_end_v = utils.lookup_variable("log_end", "count of bytes logged")
    log_len_v = utils.lookup_variable("log_buf_len", "size of log_buf")
    try:
        end = int(log_end_v)
        size = int(log_len_v)
        if size > log_buf.type.sizeof:
            raise gdb.GdbError(
                f"log_buf_len is {size}: not set up yet, or not the kthread "
                f"kernel ({utils.VMLINUX_HINT})")
        return walkers.log_bytes(utils.read_memory, int(log_buf.address), size, end)
    except walkers.WalkError as e:
        raise gdb.GdbError(f"{e} ({utils.VMLINUX_HINT})")
    except gdb.MemoryError as e:
        raise utils.memory_error(e, "the kernel log (log_buf/log_end)")


def dmesg_text():
    """The kernel log as text, ending with a newline unless it is empty."""
    text = read_log().decode("utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text += "\n"
    return text


class KtDmesg(gdb.Command):
    """Print the kernel log buffer (log_buf), oldest line first.

What printk() wrote since boot, up to the last log_buf_len bytes; the
same text the kernel sent to COM1."""

    def __init__(self):
        super().__init__("kt-dmesg", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("kt-dmesg takes no arguments")
        utils.no_target_note("kt-dmesg")
        text = utils.with_prefix("kt-dmesg", dmesg_text)
        if not text:
            text = "(the kernel log is empty)\n"
        gdb.write(text)


KtDmesg()
