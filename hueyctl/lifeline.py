"""A process that ends with its parent: supervisord's consumers, and a foreground supervisord.

A consumer that outlived a killed supervisord would run beside the next one `up` starts,
so each consumer asks to get its graceful stop signal when its parent dies: Linux's
parent-death signal (``prctl(PR_SET_PDEATHSIG)``), else a thread that watches the parent
pid. The consumer then stops as on `hueyctl down`, handing back what it holds.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# How often the portable fallback looks at the parent pid.
WATCH_INTERVAL = 1.0
# Loaded here, not between fork and exec (where parent_death_signal also runs).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def parent_death_signal(signum: int) -> bool:
    """Have the kernel send ``signum`` to this process when its parent ends (Linux);
    False where that is not available."""
    if _LIBC is None:
        return False
    return _LIBC.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def end_with_parent(signum: int = signal.SIGINT) -> None:
    """Get ``signum`` once (by default SIGINT, the consumer's graceful stop, which is
    supervisord's stop signal too) when the parent ends. Only one of the two ways is
    used: a second SIGINT would stop the consumer at once instead of gracefully."""
    if not parent_death_signal(signum):
        threading.Thread(target=_watch, args=(os.getppid(), signum), daemon=True).start()


def _watch(parent: int, signum: int) -> None:
    """Signal this process once its parent pid changes (it was reparented: the parent ended)."""
    while os.getppid() == parent:
        threading.Event().wait(WATCH_INTERVAL)
    os.kill(os.getpid(), signum)
