"""The clock the breaker and limiter tests move by hand, in place of Redis's time."""

from __future__ import annotations


class Clock:
    """Epoch seconds that move only when a test (or the limiter's `sleep`) moves them."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A sleep that takes no time: recorded, and the clock moved past it."""
        self.slept.append(seconds)
        self.advance(seconds)
