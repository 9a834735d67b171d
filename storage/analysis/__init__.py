"""Streaming analysis of an uploaded sample: what it is, its shape, and how clean it is.

`analyse(stream, filename=, max_bytes=)` returns the results dict the status page, the
API and HubSpot show, or raises `AnalysisError` whose message the visitor reads.
"""

from __future__ import annotations

from storage.analysis.errors import AnalysisError
from storage.analysis.run import analyse

__all__ = ["AnalysisError", "analyse"]
