"""Uvicorn's access log without query strings: the signed upload links carry their token there.

`/uploads/{id}?token=…` logged as requested would let anyone who reads the logs see the
visitor's results. The filter sits on the `uvicorn.access` logger itself, which uvicorn's
logging set-up keeps (it replaces handlers, not filters), so it works under `just run`
(`uvicorn.run`) and `just web` (the uvicorn command) alike.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
#: The position of the request target in uvicorn's access-log arguments:
#: (client address, method, path with query, HTTP version, status code).
PATH_ARG = 2


class DropQueryString(logging.Filter):
    """Cuts the query string off the logged request target (the path stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > PATH_ARG and isinstance(args[PATH_ARG], str):
            path, _, _ = args[PATH_ARG].partition("?")
            record.args = (*args[:PATH_ARG], path, *args[PATH_ARG + 1 :])
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger, once however many apps are made."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, DropQueryString) for existing in logger.filters):
        logger.addFilter(DropQueryString())
