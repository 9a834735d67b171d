"""The Lua scripts the breaker and the rate limiter run inside Redis, one per file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def script(name: str) -> str:
    """`<name>.lua` after `now.lua`, so every script takes its time the same way."""
    return "".join((_HERE / f"{part}.lua").read_text(encoding="utf-8") for part in ("now", name))


def now_arg(clock: Callable[[], float] | None) -> str:
    """The `now` argument of every script: "" (Redis's own time) unless a test gives a clock."""
    return "" if clock is None else repr(float(clock()))
