"""Shared helpers: cached types, container_of, list walking, clear errors.

Works with gdb 13's Python API (nothing newer is used).
"""
import gdb

from kt import walkers

# Where to point a user whose gdb has the wrong file (or none) loaded.
VMLINUX_HINT = "load the kthread kernel's symbols: gdb kernel_src/vmlinux"

MAX_LIST_ENTRIES = walkers.MAX_LIST_ENTRIES


class CachedType:
    """A gdb.Type looked up once, forgotten when the symbol files change.

    gdb.Type objects belong to an objfile: after `file` loads another
    vmlinux (or the same one rebuilt) the old type would describe the old
    layout, so the cache is dropped on new_objfile and clear_objfiles.
    """

    _all = []

    def __init__(self, name):
        self._name = name
        self._type = None
        CachedType._all.append(self)

    def reset(self):
        self._type = None

    def get_type(self):
        if self._type is None:
            try:
                self._type = gdb.lookup_type(self._name)
            except gdb.error:
                raise gdb.GdbError(
                    f"no type '{self._name}' in the loaded symbols: "
                    f"is this the kthread kernel? ({VMLINUX_HINT})")
        return self._type


def reset_type_caches(event=None):
    """Forget every cached type (connected to gdb's objfile events)."""
    for cached in CachedType._all:
        cached.reset()


def _connect_events():
    # Connect once per gdb process even if kt.py is sourced again (a reload
    # re-imports this module; the old handler would pin the old caches).
    import builtins
    old = getattr(builtins, "_kt_objfile_handler", None)
    for registry in (gdb.events.new_objfile, gdb.events.clear_objfiles):
        if old is not None:
            try:
                registry.disconnect(old)
            except Exception:   # gdb raises if it was never connected
                pass
        registry.connect(reset_type_caches)
    builtins._kt_objfile_handler = reset_type_caches


_connect_events()


def lookup_variable(name, what=None):
    """The gdb.Value of a kernel global or file-static variable `name`.

    Raises gdb.GdbError naming the symbol when it is missing (wrong vmlinux,
    or no symbol file at all).
    """
    sym = gdb.lookup_global_symbol(name)
    if sym is None:
        sym = gdb.lookup_static_symbol(name)
    if sym is None:
        if gdb.current_progspace().filename is None:
            raise gdb.GdbError(f"no symbol file loaded ({VMLINUX_HINT})")
        raise gdb.GdbError(
            f"no symbol '{name}'{' (' + what + ')' if what else ''} in "
            f"{gdb.current_progspace().filename}: is this the kthread kernel? "
            f"({VMLINUX_HINT})")
    return sym.value()


def offset_of(typ, field):
    """Byte offset of `field` in struct type `typ` (a gdb.Type)."""
    for f in typ.fields():
        if f.name == field:
            return f.bitpos // 8
    raise gdb.GdbError(f"{typ} has no field '{field}': "
                       f"is this the kthread kernel? ({VMLINUX_HINT})")


def container_of(ptr, typ, member):
    """The `typ *` whose `member` is at address `ptr` (Linux's container_of).

    `ptr` is a gdb.Value pointer (or int address), `typ` the struct gdb.Type.
    """
    addr = int(ptr)
    return gdb.Value(addr - offset_of(typ, member)).cast(typ.pointer())


def read_memory(addr, size):
    """`size` bytes of target memory at `addr` (gdb.MemoryError if unreadable)."""
    return bytes(gdb.selected_inferior().read_memory(addr, size))


def list_for_each(head, limit=MAX_LIST_ENTRIES):
    """Yield each `struct list_head *` on the circular list headed by `head`.

    `head` is a struct list_head value (not a pointer).  The walk is
    kt.walkers.list_nodes, the stub's too: a NULL link or a link whose
    ->prev does not point back (the list is not initialised yet, or is
    being changed) raises gdb.GdbError instead of wandering memory.
    """
    typ = head.type.strip_typedefs()
    nodes = walkers.list_nodes(read_memory, int(head.address), offset_of(typ, "next"),
                               offset_of(typ, "prev"), limit)
    ptr = typ.pointer()
    try:
        for node in nodes:
            yield gdb.Value(node).cast(ptr)
    except walkers.WalkError as e:
        raise gdb.GdbError(str(e))


def list_entries(head, typ, member, limit=MAX_LIST_ENTRIES):
    """Yield the `typ *` of every entry of the list headed by `head`."""
    for node in list_for_each(head, limit):
        yield container_of(node, typ, member)


def memory_error(exc, what):
    """A one-line gdb.GdbError for a gdb.MemoryError met while reading `what`.

    The usual cause is a machine stopped before head_32.S turned paging on
    (at the reset vector every 0xc... address is unreadable), which the pc
    tells: the kernel runs at 0xc1000000 and up once paging is on.
    """
    try:
        pc = int(gdb.parse_and_eval("$pc"))
    except gdb.error:
        pc = None
    if pc is None:
        hint = "is the machine stopped and connected?"
    elif pc < 0xc0000000:
        hint = (f"pc 0x{pc:x}: the kernel has not turned paging on yet; "
                f"continue to start_kernel or later")
    else:
        hint = f"pc 0x{pc:x}: that kernel memory is not mapped"
    return gdb.GdbError(f"cannot read {what}: {exc} ({hint})")


def with_prefix(prefix, func, *args):
    """func(*args), its errors turned into one-line gdb.GdbError 'prefix: ...'.

    Plain functions raise GdbError without naming a command; the commands
    and convenience functions call them through this.
    """
    try:
        return func(*args)
    except gdb.GdbError as e:
        raise gdb.GdbError(f"{prefix}: {e}")
    except gdb.MemoryError as e:
        raise gdb.GdbError(f"{prefix}: {memory_error(e, 'kernel memory')}")


def read_string(char_array):
    """A C char array or char * as a Python str (up to the first NUL)."""
    try:
        return char_array.string(errors="replace")
    except gdb.MemoryError:
        raise
    except gdb.error:
        return "?"


def symbol_name(addr):
    """'fn' or 'fn+0x10' for a code address, '0x...' if no function is there."""
    addr = int(addr)
    if addr == 0:
        return "NULL"
    try:
        block = gdb.block_for_pc(addr)
    except RuntimeError:
        block = None
    func = None
    while block is not None and func is None:
        func = block.function
        block = block.superblock
    if func is not None:
        start = int(func.value().address)
        return func.name if start == addr else f"{func.name}+0x{addr - start:x}"
    msym = gdb.execute(f"info symbol 0x{addr:x}", to_string=True).strip()
    if msym.startswith("No symbol"):
        return f"0x{addr:x}"
    # "name + off in section .text" / "name in section .text"
    name = msym.split(" in section ")[0].replace(" + ", "+")
    return name


def no_target_note(command):
    """Say so when no process/target is attached: gdb then reads the
    vmlinux file itself, i.e. the kernel's initial data, not a live kernel."""
    if gdb.selected_inferior().pid == 0:
        gdb.write(f"{command}: no target connected: showing the initial data "
                  f"in {gdb.current_progspace().filename}\n", gdb.STDERR)
