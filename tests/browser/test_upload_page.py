"""The upload page in Chromium: the file goes straight to storage with a progress bar, and
the status page turns into the results while the visitor watches, without a reload."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

#: Seconds the analysis is held back, so the page is seen waiting before the results.
ANALYSIS_DELAY_S = 1.5
#: The status page's `hx-trigger="every 2s"`.
POLL_INTERVAL_MS = 2000


@pytest.fixture
def slow_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server runs in this process: hold each analysis back a little."""
    from actors import uploads

    analyse = uploads.analyse

    def slowly(*args, **kwargs):
        time.sleep(ANALYSIS_DELAY_S)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(uploads, "analyse", slowly)


def test_an_upload_becomes_results_on_the_status_page_without_a_reload(
    page, slow_analysis: None, tmp_path: Path
) -> None:
    sample = tmp_path / "customers.csv"
    sample.write_text("id,name,amount\n1,Ann,3.5\n2,Bob,\n3,Cy,7\n", encoding="utf-8")
    page.goto("/upload")

    page.fill("#email", "browser@example.com")
    page.set_input_files("#file", str(sample))
    page.click("#upload-button")

    page.wait_for_url("**/uploads/*?token=*")
    page.evaluate("window.sameDocument = true")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url))
    assert page.locator("#quality-score").count() == 0
    page.wait_for_selector("#quality-score")
    page.wait_for_selector('[data-stage="recorded"][data-state="done"]')
    assert page.evaluate("window.sameDocument") is True
    assert page.locator(".upload-columns tbody tr").count() == 3
    assert "CSV with 3 rows" in page.inner_text("#upload-status")
    # The final answer was a 286: htmx stops polling, for good.
    seen = len(polls)
    page.wait_for_timeout(POLL_INTERVAL_MS * 1.5)
    assert len(polls) == seen
