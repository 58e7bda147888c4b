"""The one decoder of a task's state: (letter, word), as ps shows them.

Pure Python, no gdb: kt.tasks (kt-ps) imports it inside gdb, and the stub
(gdbstub/kernelaware/oskernel.py: `monitor ps`, the threads' extra info, the trace)
loads this file by path, because gdb's Python cannot import gdbstub.  The
values come from kt/constants.py, which the kernel build generates from its
headers (constants.py.in), so both sides decode with the kernel's numbers.
"""
import importlib.util
import os

_CONSTANTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "constants.py")


def _load_constants():
    if not os.path.isfile(_CONSTANTS):
        raise ImportError(f"{_CONSTANTS} is missing: build the kernel (make -C kernel_src) "
                          f"to generate it from the kernel headers")
    spec = importlib.util.spec_from_file_location("kt_constants", _CONSTANTS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


constants = _load_constants()

TASK_RUNNING = constants.LX_TASK_RUNNING
TASK_INTERRUPTIBLE = constants.LX_TASK_INTERRUPTIBLE
TASK_UNINTERRUPTIBLE = constants.LX_TASK_UNINTERRUPTIBLE
TASK_DEAD = constants.LX_TASK_DEAD
EXIT_ZOMBIE = constants.LX_EXIT_ZOMBIE
EXIT_DEAD = constants.LX_EXIT_DEAD
TASK_COMM_LEN = constants.LX_TASK_COMM_LEN


def decode(state, exit_state=0, on_cpu=False):
    """(letter, word) of a task: R running/runnable, S sleeping,
    D uninterruptible, Z zombie, X dead, or ('?', 'state N').

    `on_cpu` marks the task that has the CPU (current_task): it is
    'running' whatever state it has set on its way into schedule(), unless
    it has already exited.  A released task (EXIT_DEAD, and TASK_DEAD once
    it switches away for good) is 'dead'.
    """
    if exit_state & EXIT_ZOMBIE:
        return "Z", "zombie"
    if exit_state & EXIT_DEAD or state & TASK_DEAD:
        return "X", "dead"
    if on_cpu:
        return "R", "running"
    if state == TASK_RUNNING:
        return "R", "runnable"
    if state & TASK_UNINTERRUPTIBLE:
        return "D", "uninterruptible"
    if state & TASK_INTERRUPTIBLE:
        return "S", "sleeping"
    return "?", f"state {state}"


def describe(state, exit_state=0, on_cpu=False):
    """'R (running)', 'X (dead)', '? (state 8)': the ps column."""
    letter, word = decode(state, exit_state, on_cpu)
    return f"{letter} ({word})"
