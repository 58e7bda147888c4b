"""kthread-stub: serve the emulated machine to gdb over RSP.

    kthread-stub [--kernel PATH] [--host H] [--port N] [--once] [--debug-rsp FILE]
    gdb kernel_src/vmlinux -ex 'target remote | kthread-stub --stdio'

Exit status 2 with a one-line message for the errors a user can fix (port in
use, missing kernel, bad ELF).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from .rsplog import RspLog
from .server import Server
from .rspsession import DEFAULT_SLICE

REPO = Path(__file__).resolve().parent.parent


class UsageError(Exception):
    pass


def ensure_kernel() -> Path:
    """The default kernel: machine.kbuild.ensure_kernel() when the machine provides it,
    else `make -C kernel_src` (make itself decides whether vmlinux is stale)."""
    try:
        from machine import kbuild  # type: ignore
    except ImportError:
        kbuild = None
    if kbuild is not None and hasattr(kbuild, "ensure_kernel"):
        return Path(kbuild.ensure_kernel())
    src = REPO / "kernel_src"
    if not (src / "Makefile").exists():
        raise UsageError(f"no kernel given and no {src}/Makefile to build one; use --kernel PATH")
    r = subprocess.run(["make", "-s", "-C", str(src)], stdout=sys.stderr, stderr=sys.stderr)
    if r.returncode != 0:
        raise UsageError(f"building the kernel failed (make -C {src} exited {r.returncode})")
    return src / "vmlinux"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kthread-stub", description=__doc__.split("\n\n")[0])
    p.add_argument("--kernel", metavar="PATH", help="kernel ELF (default: build kernel_src/vmlinux)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1234, help="TCP port (default 1234; 0 picks one)")
    p.add_argument("--stdio", action="store_true",
                   help="speak RSP on stdin/stdout (for: target remote | kthread-stub --stdio)")
    p.add_argument("--debug-rsp", metavar="FILE", help="log every packet to FILE ('-' for stderr)")
    p.add_argument("--once", action="store_true", help="exit when the first gdb leaves")
    p.add_argument("--slice", type=int, default=DEFAULT_SLICE, metavar="N",
                   help="instructions run between polls for Ctrl-C (default %(default)s)")
    p.add_argument("--fake-target", action="store_true",
                   help="serve a fake target instead of the machine (protocol testing)")
    return p


def _make_target(args, messages):
    if args.fake_target:
        from .fake import FakeTarget

        return FakeTarget()
    kernel = Path(args.kernel) if args.kernel else ensure_kernel()
    if not kernel.is_file():
        raise UsageError(f"kernel image not found: {kernel}")
    try:
        from machine import KernelImageError, Machine
    except ImportError as e:
        raise UsageError(f"the machine package is not available ({e})") from None
    console_fd = messages if args.stdio else sys.stdout

    def console(data: bytes) -> None:
        console_fd.write(data.decode("latin-1"))
        console_fd.flush()

    try:
        machine = Machine(str(kernel), console=console)
    except KernelImageError as e:
        raise UsageError(f"bad kernel image {kernel}: {e}") from None
    from .target import MachineTarget

    return MachineTarget(machine), kernel


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    messages = sys.stderr
    log_stream = None
    try:
        if args.debug_rsp:
            log_stream = sys.stderr if args.debug_rsp == "-" else open(args.debug_rsp, "w")
        made = _make_target(args, messages)
        target, kernel = made if isinstance(made, tuple) else (made, None)
        server = Server(target, log=RspLog(log_stream), slice_insns=args.slice, messages=messages)
        if args.stdio:
            server.serve_stdio()
            return 0
        try:
            if not ipaddress.ip_address(args.host).is_loopback:
                messages.write(f"warning: listening on {args.host}, which is not loopback: "
                               "anyone who can reach it controls the machine\n")
        except ValueError:
            if args.host != "localhost":
                messages.write(f"warning: listening on {args.host}, which may not be loopback\n")
        try:
            port = server.listen(args.host, args.port)
        except OSError as e:
            reason = "port in use" if e.errno == 98 else e.strerror or str(e)
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
        shown = os.path.relpath(kernel) if kernel else "vmlinux"
        messages.write(f"Listening on {args.host}:{port}; connect with: "
                       f"gdb {shown} -ex 'target remote {args.host}:{port}'\n")
        messages.flush()
        server.serve_forever(once=args.once)
        return 0
    except UsageError as e:
        messages.write(f"kthread-stub: {e}\n")
        return 2
    except OSError as e:
        messages.write(f"kthread-stub: {e}\n")
        return 2
    except KeyboardInterrupt:
        messages.write("kthread-stub: interrupted\n")
        return 130
    finally:
        if log_stream not in (None, sys.stderr):
            log_stream.close()


if __name__ == "__main__":
    sys.exit(main())
