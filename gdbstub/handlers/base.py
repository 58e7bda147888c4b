"""Core packets every stub has: ?, g/G, p/P, m/M/X, qAttached, qOffsets, D, k,
QStartNoAckMode; and `monitor` (qRcmd)."""

from __future__ import annotations

from ..rsp import commands as C
from ..rsp import regs
from ..dispatch import PACKET_SIZE, E_INVALID, Capability, Context, EndSession, Frames, Reply
from ..monitor import Monitor, output_packets
from ..target import TargetRegisterError
from .stopreply import stop_reply

_MACHINE_NAMES = [r.machine_name for r in regs.REGISTERS]

# Largest memory read whose hex reply (plus framing) fits in PacketSize.
MAX_READ = PACKET_SIZE // 2  # PacketSize counts payload bytes, not the framing


class BaseOps(Capability):
    features = ("QStartNoAckMode+",)

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._g_cache = None  # ((target generation, thread), g reply)

    def handlers(self):
        return {
            C.QueryHaltReason: self.halt_reason,
            C.ReadRegisters: self.read_registers,
            C.WriteRegisters: self.write_registers,
            C.ReadRegister: self.read_register,
            C.WriteRegister: self.write_register,
            C.ReadMemory: self.read_memory,
            C.WriteMemory: self.write_memory,
            C.QueryAttached: self.attached,
            C.QueryOffsets: self.offsets,
            C.Detach: self.detach,
            C.Kill: self.kill,
            C.StartNoAckMode: self.no_ack,
        }

    # -- helpers
    def _thread(self) -> int:
        t = self.ctx.general_thread
        return self.ctx.threads.current() if t in (0, -1) else t

    def _read(self, reg: regs.Register) -> bytes:
        v = self.ctx.threads.read_register(self._thread(), reg.machine_name)
        return regs.encode_value(reg, v)

    # -- handlers
    def halt_reason(self, cmd):
        return stop_reply(self.ctx, self.ctx.last_stop)

    def read_registers(self, cmd):
        gen = self.ctx.target.generation
        key = (gen, self.ctx.connection, self._thread(), self.ctx.threads.enabled)
        if gen is not None and self._g_cache is not None and self._g_cache[0] == key:
            return self._g_cache[1]
        reply = self._read_registers()
        self._g_cache = (key, reply)
        return reply

    def _read_registers(self):
        try:
            values = self.ctx.threads.read_registers(self._thread(), _MACHINE_NAMES)
        except TargetRegisterError:
            values = None
        if values is not None:
            return regs.encode_all(values).hex().encode()
        # Some register is unavailable: read one by one, 'xx' for the missing.
        out = []
        for reg in regs.REGISTERS:
            try:
                out.append(self._read(reg).hex().encode())
            except TargetRegisterError:
                out.append(b"xx" * reg.size)  # unavailable
        return b"".join(out)

    def write_registers(self, cmd: C.WriteRegisters):
        if len(cmd.data) > regs.G_PACKET_SIZE:
            raise C.ParseError("G packet too long")
        if len(cmd.data) not in regs.G_PREFIX_SIZES:
            raise C.ParseError("G packet ends inside a register")
        tid = self._thread()
        for reg, raw in regs.split_g(cmd.data):
            self.ctx.threads.write_register(tid, reg.machine_name, regs.decode_value(reg, raw))
        return b"OK"

    def read_register(self, cmd: C.ReadRegister):
        if cmd.regnum >= len(regs.REGISTERS):
            return E_INVALID
        return self._read(regs.REGISTERS[cmd.regnum]).hex().encode()

    def write_register(self, cmd: C.WriteRegister):
        if cmd.regnum >= len(regs.REGISTERS):
            return E_INVALID
        reg = regs.REGISTERS[cmd.regnum]
        if len(cmd.data) != reg.size:
            raise C.ParseError("register value has the wrong size")
        self.ctx.threads.write_register(self._thread(), reg.machine_name, regs.decode_value(reg, cmd.data))
        return b"OK"

    def read_memory(self, cmd: C.ReadMemory):
        length = min(cmd.length, MAX_READ)
        if length == 0:
            return b""
        # May return fewer bytes than asked (the readable prefix); gdb copes.
        return self.ctx.target.read_memory(cmd.addr & 0xFFFFFFFF, length).hex().encode()

    def write_memory(self, cmd: C.WriteMemory):
        if cmd.data:
            self.ctx.target.write_memory(cmd.addr & 0xFFFFFFFF, cmd.data)
            # A write may change the task list or a sleeping task's saved context.
            self._g_cache = None
            self.ctx.threads.invalidate()
        return b"OK"

    def attached(self, cmd):
        # "1": we attached to something that already existed (a machine), so
        # gdb detaches rather than kills when it quits.  QEMU answers the same.
        return b"1"

    def offsets(self, cmd):
        # The kernel runs where it is linked: no relocation.  QEMU's system
        # emulation answers qOffsets with the empty reply too; gdb then
        # applies no offsets.
        return b""

    def detach(self, cmd):
        self.ctx.remove_all_breakpoints()
        return EndSession(b"OK", "detached")

    def kill(self, cmd: C.Kill):
        if self.ctx.extended:
            # the program is gone for gdb, the session goes on (extended.py)
            self.ctx.end_session(lambda text: None)
            return b"OK"
        # A machine cannot be killed from gdb: end the session, keep the machine.
        self.ctx.remove_all_breakpoints()
        return EndSession(b"OK" if cmd.pid is not None else None, "killed")

    def no_ack(self, cmd):
        return Reply(b"OK", after=self.ctx.start_no_ack)


class MonitorOps(Capability):
    """``monitor CMD`` (qRcmd): output in ``O`` packets, then ``OK`` (monitor.py)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.monitor_commands = Monitor(ctx)

    def handlers(self):
        return {C.MonitorCommand: self.monitor}

    def monitor(self, cmd: C.MonitorCommand):
        out = self.monitor_commands.run(cmd.command)
        return Frames(output_packets(out) + [b"OK"])
