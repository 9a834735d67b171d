"""What every batch endpoint shares on the wire: the ``inputs`` list it takes and the
``BatchResponse…`` body it answers.

HubSpot answers a batch with ``status: COMPLETE``, its ``results`` and, when some inputs
failed, ``errors[]`` (``StandardError``) with ``numErrors`` under a 207 Multi-Status; a
client that only accepts 200/201 misreads every partial success, so the status is chosen
here once for the object, property, association and timeline batches alike.
"""

from __future__ import annotations

from typing import Any

from .errors import validation_error
from .timeutil import iso

#: HubSpot's cap on inputs per CRM object batch call (FACTS B4).
MAX_OBJECT_INPUTS = 100


def batch_inputs(body: Any, max_inputs: int | None = None) -> list[dict[str, Any]]:
    """The ``inputs`` of a batch body, each an object; a longer list than ``max_inputs``
    is refused as a whole, before any input is looked at."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: expected an object with an inputs list")
    inputs = body["inputs"]
    if max_inputs is not None and len(inputs) > max_inputs:
        raise validation_error(
            f"Batch input is limited to {max_inputs} inputs; got {len(inputs)}.",
            context={"inputs": [str(len(inputs))]},
        )
    if not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: every input must be an object")
    return inputs


def batch_answer(
    started: float, results: list[Any], errors: list[dict[str, Any]], ok: int
) -> tuple[int, dict[str, Any]]:
    """The status and body of a batch answer: ``ok`` when every input succeeded, 207 with
    ``errors``/``numErrors`` when some did not."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(started),
    }
    if errors:
        body["errors"], body["numErrors"] = errors, len(errors)
    return (207 if errors else ok), body
