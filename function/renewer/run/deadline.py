"""Deadline awareness: a hard bound on the whole invocation.

Function Compute gives Python only ``context.function.timeout`` (Lambda a remaining-time call); the
run measures from its own start. Two ends:

* :attr:`Deadline.end`: keys. No key starts, no call, back-off or wait for a request slot begins,
  and no call runs on past this. The margin after it is kept for the metrics and the report.
* :meth:`Deadline.final`: the metrics and the report. Ends a small safety before the timeout
  itself, so the handler always returns (or raises) its report before Function Compute kills it.
"""

from __future__ import annotations

import math

from renewer.clock import Clock

MIN_MARGIN_SECONDS = 10.0
MARGIN_FRACTION = 0.1
FINAL_SAFETY_FRACTION = 0.02  # of the timeout: serialising and returning the report
MIN_FINAL_SAFETY_SECONDS = 1.0


class Deadline:
    def __init__(self, clock: Clock, seconds: float | None, margin: float | None = None) -> None:
        self.clock = clock
        self.started = clock.monotonic()
        if seconds is None or seconds <= 0 or not math.isfinite(seconds):
            self.end = math.inf
            self.margin = 0.0
            self.hard_end = math.inf
        else:
            self.margin = (
                margin if margin is not None else min(max(MIN_MARGIN_SECONDS, seconds * MARGIN_FRACTION), seconds / 2)
            )
            self.end = self.started + seconds - self.margin
            safety = min(max(MIN_FINAL_SAFETY_SECONDS, seconds * FINAL_SAFETY_FRACTION), self.margin / 2)
            self.hard_end = self.started + seconds - safety

    @classmethod
    def none(cls, clock: Clock) -> Deadline:
        return cls(clock, None)

    def final(self) -> Deadline:
        """The deadline of what follows the keys (metrics): the margin, less a small safety."""
        final = Deadline(self.clock, None)
        final.started = self.started
        final.end = final.hard_end = self.hard_end
        return final

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.end)

    def remaining(self) -> float:
        return self.end - self.clock.monotonic()

    def allows(self, seconds: float) -> bool:
        """Is there time for something expected to take ``seconds``, before the margin?"""
        return self.remaining() > seconds
