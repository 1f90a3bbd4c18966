"""This process's peak resident memory.

Linux's ru_maxrss survives fork and exec: a child started from a big parent reports at least the
parent's size. VmHWM in /proc/self/status belongs to the current address space, so it starts over
at exec and measures only the child; ru_maxrss is the fallback elsewhere.
"""

from __future__ import annotations

import resource
import sys


def peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
