"""The stop log (`kthread-stub --stop-log FILE`): one JSON line per stop the
stub reports to gdb, written by the stub itself, so a grader can check what
the machine did rather than what gdb printed (labs/grade.py).

    {"n": 3, "reason": "breakpoint", "signal": 5, "pc": 3222278400,
     "pid": 2, "icount": 1520443, "watch": null, "regs": {"eax": 0, ...}}

`pid` is the current kernel task's (null before the task list exists);
`watch` is [kind, address] for a watchpoint stop; icount going down from one
line to the next is a reverse run.  The path comes from the command line only,
never from the wire.
"""

from __future__ import annotations

import json

REGS = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags")


class StopLog:
    def __init__(self, path: str):
        self.file = open(path, "w", buffering=1)   # line-buffered: readable while running
        self.n = 0

    def record(self, ctx, stop) -> None:
        target = ctx.target
        regs = {}
        for name in REGS:
            try:
                regs[name] = target.read_register(name)
            except Exception:       # a fake target may not have them all
                pass
        pid = ctx.threads.running_pid()   # tasks shown or not
        self.n += 1
        self.file.write(json.dumps({
            "n": self.n, "reason": stop.reason, "signal": stop.signal, "pc": stop.pc,
            "pid": pid,
            "icount": target.icount,
            "watch": list(stop.watch) if stop.watch else None, "regs": regs}) + "\n")

    def close(self) -> None:
        self.file.close()
