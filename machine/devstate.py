"""Save and load the device state of the PC (the PIC pair, the PIT, the
UART) for Machine.snapshot()/restore() and so for history.py.

  save(pic, pit, uart) -> DeviceState   a deep copy: later I/O leaves it alone
  load(state, pic, pit, uart)           the devices as at save(), in place

What is saved is each device's registers; what wires a device to the machine
is not, and load() keeps it: the PIT's clock and IRQ line, the UART's output
callback.  The same state can be loaded any number of times.
"""
import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

_UART_WIRING = ("output",)


@dataclass(frozen=True)
class DeviceState:
    pic_master: Any             # pic.PIC8259
    pic_slave: Any
    pit_channels: List[Any]     # pit._Channel x 3
    pit_next_tick: Optional[int]
    uart: Dict[str, Any]        # UART16550's registers by attribute name


def save(pic, pit, uart) -> DeviceState:
    return copy.deepcopy(DeviceState(
        pic.master, pic.slave, pit.ch, pit.next_tick,
        {k: v for k, v in vars(uart).items() if k not in _UART_WIRING}))


def load(state: DeviceState, pic, pit, uart):
    s = copy.deepcopy(state)
    pic.master, pic.slave = s.pic_master, s.pic_slave
    pit.ch, pit.next_tick = s.pit_channels, s.pit_next_tick
    vars(uart).update(s.uart)
