"""A progress bar for long runs on a terminal (``python -m renewer run``), never in Function Compute
logs: the handler passes none, and the CLI shows one only when stderr is a terminal."""

from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None: ...

    def advance(self) -> None: ...

    def finish(self) -> None: ...


class TerminalProgress:
    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
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

    def _draw(self) -> None:
        if not self._total:
            return
        filled = self.WIDTH * self._done // self._total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self._phase:<6} [{bar}] {self._done}/{self._total} keys")
        self.stream.flush()
