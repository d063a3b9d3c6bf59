"""A progress bar for long runs on a terminal (``python -m renewer run``), never in Function Compute
logs: the handler passes none, and the CLI shows one only when stderr is a terminal."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None: ...

    def advance(self) -> None: ...

    def finish(self) -> None: ...


class TerminalProgress:
    """``renew  [#####.........] 3/10 keys`` redrawn in place; the bar narrows to fit the terminal.

    :meth:`say` writes a line above the bar (the CLI's Ctrl-C message). The lock is reentrant: the
    CLI's signal handler may call :meth:`say` on the main thread while that thread is inside
    :meth:`finish`."""

    WIDTH = 30
    MIN_WIDTH = 10

    def __init__(self, stream: TextIO | None = None, columns: int | None = None) -> None:
        self.stream = stream or sys.stderr
        self.columns = columns
        self._lock = threading.RLock()
        self._phase, self._done, self._total = "", 0, 0

    def start(self, phase: str, total: int) -> None:
        with self._lock:
            self._phase, self._done, self._total = phase, 0, total
            self._draw()

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            self._draw()

    def finish(self) -> None:
        with self._lock:
            if self._total:
                self.stream.write("\n")
                self.stream.flush()
            self._total = 0

    def say(self, message: str) -> None:
        """``message`` on a line of its own, the bar (if drawn) redrawn below it."""
        with self._lock:
            self.stream.write(("\r\033[K" if self._total else "") + message + "\n")
            self._draw()
            self.stream.flush()

    def _draw(self) -> None:
        if not self._total:
            return
        counts = f"{self._done}/{self._total} keys"
        columns = self.columns or _columns(self.stream)
        # "phase  [" + bar + "] " + counts, with a column to spare so the cursor never wraps
        width = max(self.MIN_WIDTH, min(self.WIDTH, columns - len(counts) - 12))
        filled = width * self._done // self._total
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self._phase:<6} [{bar}] {counts}")
        self.stream.flush()


def _columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to; else what :func:`shutil.get_terminal_size` says."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):  # not a terminal, or no file descriptor at all
        return shutil.get_terminal_size().columns
