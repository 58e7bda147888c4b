"""The line every benchmark prints first: a figure means little without the
machine it was taken on and how busy that machine was."""
import os


def host_line() -> str:
    load = " ".join("%.2f" % x for x in os.getloadavg())
    return "host: %s, %d CPUs, load average %s" % (os.uname().machine, os.cpu_count(), load)
