"""H, T, qC, qfThreadInfo/qsThreadInfo, qThreadExtraInfo, qXfer:threads:read
-- via the thread layer (gdbstub/threadmodel.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ..rsp import commands as C
from ..dispatch import E_INVALID, XFER_MAX, Capability, Context, Reply


class ThreadOps(Capability):
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._xml = b""  # the qXfer:threads document being read (built at offset 0)

    @property
    def features(self):
        # Thread names only exist when threads are kernel tasks.
        return ("qXfer:threads:read+",) if self._named() else ()

    def _named(self) -> bool:
        return self.ctx.threads.tasks_known

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
        self.ctx.thread_list = self.ctx.threads.thread_ids()
        return self._chunk()

    def info_next(self, cmd):
        return self._chunk()

    def _chunk(self, per_reply: int = 64):
        ids = self.ctx.thread_list or self.ctx.threads.thread_ids()
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

    # -- qXfer:threads:read (called by the qXfer capability)
    def threads_xml(self) -> bytes:
        th = self.ctx.threads
        lines = ['<?xml version="1.0"?>', "<threads>"]
        for tid in th.thread_ids():
            name = th.thread_name(tid) if self._named() else None
            attrs = f'id="{tid:x}" core="{th.core(tid)}"'
            if name:
                attrs += f" name={quoteattr(name)}"
            task = th.task(tid)
            if task is not None:
                body = f"pid {task.pid}, {th.state(tid)}"
            else:
                body = th.extra_info(tid) or ""
            lines.append(f"<thread {attrs}>{escape(body)}</thread>")
        lines.append("</threads>")
        return ("\n".join(lines) + "\n").encode()

    def xfer_read(self, annex: str, offset: int, length: int):
        if annex:
            return E_INVALID
        if offset == 0:
            self._xml = self.threads_xml()
        chunk = self._xml[offset : offset + min(length, XFER_MAX)]
        more = offset + len(chunk) < len(self._xml)
        return Reply((b"m" if more else b"l") + chunk, binary=True)
