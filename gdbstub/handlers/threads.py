"""H, T, qC, qfThreadInfo/qsThreadInfo, qThreadExtraInfo -- via the thread layer."""

from __future__ import annotations

from .. import commands as C
from ..dispatch import E_INVALID, Capability, Context


class ThreadOps(Capability):
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def handlers(self):
        return {
            C.SetThread: self.set_thread,
            C.ThreadAlive: self.alive,
            C.CurrentThread: self.current,
            C.ThreadInfoFirst: self.info_first,
            C.ThreadInfoNext: self.info_next,
            C.ThreadExtraInfo: self.extra_info,
        }

    def _ok_tid(self, tid: int) -> bool:
        return tid in (-1, 0) or self.ctx.threads.is_alive(tid)

    def set_thread(self, cmd: C.SetThread):
        tid = cmd.thread.tid
        if not self._ok_tid(tid):
            return E_INVALID
        if cmd.op == "g":
            self.ctx.general_thread = tid
        else:
            self.ctx.continue_thread = tid
        return b"OK"

    def alive(self, cmd: C.ThreadAlive):
        return b"OK" if self.ctx.threads.is_alive(cmd.thread.tid) else E_INVALID

    def current(self, cmd):
        return b"QC%02x" % self.ctx.threads.current()

    def info_first(self, cmd):
        self.ctx.thread_cursor = 0
        return self._chunk()

    def info_next(self, cmd):
        return self._chunk()

    def _chunk(self, per_reply: int = 64):
        ids = self.ctx.threads.thread_ids()
        start = self.ctx.thread_cursor
        if start >= len(ids):
            return b"l"
        part = ids[start : start + per_reply]
        self.ctx.thread_cursor = start + len(part)
        return b"m" + b",".join(b"%02x" % t for t in part)

    def extra_info(self, cmd: C.ThreadExtraInfo):
        text = self.ctx.threads.extra_info(cmd.thread.tid)
        if text is None:
            return E_INVALID
        return text.encode().hex().encode()
