"""Deadline awareness. Function Compute gives Python no remaining-time call, only
``context.function.timeout``; the run measures from its own start and keeps a safety margin for
what comes after the keys (metrics, the report)."""

from __future__ import annotations

import math

from renewer.clock import Clock

MIN_MARGIN_SECONDS = 10.0
MARGIN_FRACTION = 0.1


class Deadline:
    def __init__(self, clock: Clock, seconds: float | None, margin: float | None = None) -> None:
        self.clock = clock
        self.started = clock.monotonic()
        if seconds is None or seconds <= 0:
            self.end = math.inf
            self.margin = 0.0
        else:
            self.margin = (
                margin if margin is not None else min(max(MIN_MARGIN_SECONDS, seconds * MARGIN_FRACTION), seconds / 2)
            )
            self.end = self.started + seconds - self.margin

    @classmethod
    def none(cls, clock: Clock) -> Deadline:
        return cls(clock, None)

    def remaining(self) -> float:
        return self.end - self.clock.monotonic()

    def allows(self, seconds: float) -> bool:
        """Is there time for something expected to take ``seconds``, before the margin?"""
        return self.remaining() > seconds
