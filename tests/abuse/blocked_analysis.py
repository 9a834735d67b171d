"""Analyses that hold their worker thread until the test lets them go, as a hostile file
holds it for minutes, then finish with the real analysis.

In the test's own process, `BlockedAnalysis(folder).install(monkeypatch)`. In a `dramatiq`
worker process, name this module after `actors.worker` with `BLOCKED_ANALYSIS_DIR` set.
The folder is the one channel in both: each analysis that starts leaves a file in it, and
a file named `release` lets every analysis finish.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import actors.uploads

#: Longest an analysis waits for the release, in seconds: a failed test never hangs a worker.
MAX_BLOCK_S = 120
#: Seconds between looks for the release.
POLL_S = 0.02


class BlockedAnalysis:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._release = folder / "release"

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(actors.uploads, "analyse", self._wrap(actors.uploads.analyse))

    def started(self) -> int:
        """How many analyses have begun, held or not."""
        return len(list(self.folder.glob("started-*")))

    def release(self) -> None:
        self._release.touch()

    def _wrap(self, analyse: Callable[..., Any]) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            (self.folder / f"started-{uuid.uuid4().hex}").touch()
            deadline = time.monotonic() + MAX_BLOCK_S
            while not self._release.exists() and time.monotonic() < deadline:
                time.sleep(POLL_S)
            return analyse(*args, **kwargs)

        return held


if _folder := os.environ.get("BLOCKED_ANALYSIS_DIR"):
    # Loaded by the `dramatiq` CLI, where no test can patch: hold analyses from the start.
    BlockedAnalysis(Path(_folder)).install(pytest.MonkeyPatch())
