"""Deadline awareness: a hard bound on the whole invocation.

Function Compute gives Python only ``context.function.timeout`` (Lambda a remaining-time call); the
run measures from its own start. Two ends:

* :attr:`Deadline.end`: keys. No key starts, no call, back-off or wait for a request slot begins,
  and no call runs on past this. The margin after it is kept for the metrics and the report.
* :meth:`Deadline.final`: the metrics and the report. Ends a small safety before the timeout
  itself, so the handler always returns (or raises) its report before Function Compute kills it.

:meth:`Deadline.cancel` (Ctrl-C on the command line) stops the run early: no key starts after it.
"""

from __future__ import annotations

import math

from renewer.clock import Clock

MIN_MARGIN_SECONDS = 10.0
MARGIN_FRACTION = 0.1
FINAL_SAFETY_FRACTION = 0.02  # of the timeout: serialising and returning the report
MIN_FINAL_SAFETY_SECONDS = 1.0
#: After :meth:`Deadline.cancel`: how long the calls under way may still take; the metrics as long again.
CANCEL_GRACE_SECONDS = 5.0


class Deadline:
    def __init__(self, clock: Clock, seconds: float | None, margin: float | None = None) -> None:
        self.clock = clock
        self.started = clock.monotonic()
        self.cancelled = False
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
        """Is there time for something expected to take ``seconds``, before the margin? Never once cancelled."""
        return not self.cancelled and self.remaining() > seconds

    def cancel(self, grace: float = CANCEL_GRACE_SECONDS) -> None:
        """Stop: from now on nothing new starts (:meth:`allows` is false: no key, no back-off), the
        calls under way get ``grace`` seconds (:attr:`end`), the metrics as long again (:meth:`final`)."""
        self.cancelled = True
        self.end = min(self.end, self.clock.monotonic() + grace)
        self.hard_end = min(self.hard_end, self.end + grace)

    @property
    def stop_note(self) -> str:
        """Why a key was not started: the note of a ``not_attempted`` key."""
        return "interrupted before it started" if self.cancelled else "not reached before the function's deadline"
