"""Wake-ups between processes for FileStorage, without polling: a waiting thread listens on
a FIFO of its own inside a channel's directory, and a writer, after its change, writes one
byte to every FIFO there. A FIFO whose process died has no reader left; the next writer
removes it."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time
import uuid
import weakref
from collections.abc import Callable

#: The longest a waiter sleeps between checks even without a wake-up: a writer killed
#: between its change and its notify costs this much latency, never a lost message.
RECHECK = 1.0


class Listener:
    """One FIFO in ``channel``'s directory, open for reading until this object is dropped."""

    def __init__(self, channel: str, staging: str) -> None:
        os.makedirs(channel, exist_ok=True)
        os.makedirs(staging, exist_ok=True)
        name = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
        # Made and opened outside the channel, then renamed in: a writer never finds it
        # without a reader and takes it for a dead one.
        made = os.path.join(staging, name)
        os.mkfifo(made, 0o600)
        # Read and write: the FIFO always has a writer (this fd), so it never reads as
        # closed, and it has a reader for exactly as long as this process holds it.
        self.fd = os.open(made, os.O_RDWR | os.O_NONBLOCK)
        self.path = os.path.join(channel, name)
        os.rename(made, self.path)
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)
        self._finalizer = weakref.finalize(self, _remove, self.fd, self.path, os.getpid())

    def wait(self, timeout: float) -> bool:
        """Sleep until woken or ``timeout`` seconds pass; True if woken (then drained)."""
        woken = bool(self._poll.poll(max(timeout, 0) * 1000))
        if woken:
            self.drain()
        return woken

    def drain(self) -> None:
        """Forget the wake-ups received so far."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 4096):
                pass

    def close(self) -> None:
        self._finalizer()


def _remove(fd: int, path: str, owner: int) -> None:
    os.close(fd)
    if os.getpid() == owner:  # a forked child drops its copy, the FIFO stays the parent's
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def notify(channel: str) -> None:
    """Wake every listener in ``channel``; remove the FIFOs of listeners that are gone."""
    try:
        names = os.listdir(channel)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(channel, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no reader: its process is gone
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            raise
        try:
            os.write(fd, b".")
        except BlockingIOError:
            pass  # the FIFO is full of wake-ups the listener has not read yet
        finally:
            os.close(fd)


def wait_until(listener: Listener, check: Callable[[], bool], timeout: float) -> bool:
    """Call ``check`` now and after each wake-up until it is true or ``timeout`` passes.

    Wake-ups are drained before each check, so a change made after the check wakes the
    next wait: none is missed between the two."""
    deadline = time.monotonic() + max(timeout, 0)
    while True:
        listener.drain()
        if check():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        listener.wait(min(remaining, RECHECK))
