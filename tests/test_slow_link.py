"""A stub that answers late must not break gdb's session.

gdb waits `remotetimeout` seconds (2 by default) for a reply, then resends the
packet, and the late reply puts the session out of step: "Remote replied
unexpectedly to 'vMustReplyEmpty'".  That is what a loaded host (a lab server,
CI beside other jobs) did to a test.  Every gdb the project starts gets
harness.session.GDB_SETTINGS, which waits longer.  Here a relay between gdb and
the real stub holds the stub's first reply for 3 s: a slow host made certain.
"""
import socket
import subprocess
import threading
import time

import pytest

from gdbstub.harness import session

DELAY = 3.0                 # seconds: longer than gdb's default remotetimeout (2)


class SlowLink:
    """A TCP relay to `target` that holds the first bytes the stub sends."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        gdb, _ = self.listener.accept()
        host, port = self.target.rsplit(":", 1)
        stub = socket.create_connection((host, int(port)))
        threading.Thread(target=self._pump, args=(gdb, stub, 0), daemon=True).start()
        self._pump(stub, gdb, DELAY)

    @staticmethod
    def _pump(src, dst, first_delay):
        try:
            while data := src.recv(4096):
                if first_delay:
                    time.sleep(first_delay)     # the slow host itself, not a wait
                    first_delay = 0
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("settings", ["project", "gdb default"])
def test_a_late_first_reply(kernel, gdb, settings):
    with session.StubProcess(kernel) as stub:
        link = SlowLink(stub.address())
        cmd = session.gdb_command(kernel, link.address, commands=["info registers eip"],
                                  trace=False, batch=True)
        if settings == "gdb default":       # the failure the settings prevent
            cmd = [("set remotetimeout 2" if a.startswith("set remotetimeout") else a)
                   for a in cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        link.close()
    out = r.stdout + r.stderr
    if settings == "project":
        assert "eip            0x1000010" in out, out
        assert "unexpectedly" not in out, out
    else:
        assert "Remote replied unexpectedly to 'vMustReplyEmpty'" in out, out
