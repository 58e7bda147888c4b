"""qXfer:features:read -- the target description; qXfer:threads:read is
answered by the thread capability (ThreadOps.xfer_read)."""

from __future__ import annotations

from ..rsp import commands as C
from ..rsp import tdesc
from ..dispatch import E_INVALID, Capability, Context, Reply


class TargetDescriptionOps(Capability):
    features = ("qXfer:features:read+",)

    def __init__(self, ctx: Context, threads=None):
        self.ctx = ctx
        self.threads = threads  # the ThreadOps capability, for qXfer:threads

    def handlers(self):
        return {C.QXferRead: self.read}

    def read(self, cmd: C.QXferRead):
        if cmd.object == "threads" and self.threads is not None and self.threads.features:
            return self.threads.xfer_read(cmd.annex, cmd.offset, cmd.length)
        if cmd.object != "features":
            return b""  # other objects are not implemented
        body = tdesc.read_annex(cmd.annex, cmd.offset, cmd.length)
        if body is None:
            return E_INVALID
        return Reply(body, binary=True)
