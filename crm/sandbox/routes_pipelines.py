"""Pipelines v3 (``/crm/v3/pipelines/{objectType}``), deals only.

Deal writes check ``dealstage`` against these, so a client that creates its own
pipeline here can then use its stage ids. Deal stages need ``metadata.probability``
(0.0–1.0), as in HubSpot.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import not_found, validation_error
from .objecttypes import DEALS, resolve_any
from .pipelines import Pipeline, Stage
from .state import SandboxState
from .wire import answer, no_content, read_json, sandbox


def _pipelines(request: Request) -> dict[str, Pipeline]:
    otype = resolve_any(request.path_params["objectType"])
    if otype is not DEALS:
        raise validation_error(f"Pipelines are not supported for object type {otype.name}")
    return sandbox(request).pipelines[DEALS.name]


def _pipeline(request: Request) -> Pipeline:
    pipeline_id = request.path_params["pipelineId"]
    found = _pipelines(request).get(pipeline_id)
    if found is None or found.archived:
        raise not_found(f"Unable to find pipeline {pipeline_id}")
    return found


def _stage(request: Request) -> Stage:
    stage_id = request.path_params["stageId"]
    for stage in _pipeline(request).stages:
        if stage.id == stage_id and not stage.archived:
            return stage
    raise not_found(f"Unable to find stage {stage_id}")


def _metadata(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise validation_error("Deal stages need metadata with a probability")
    metadata = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    try:
        probability = float(metadata["probability"])
    except (KeyError, ValueError):
        probability = -1.0
    if not 0.0 <= probability <= 1.0:
        raise validation_error("Deal stage metadata.probability must be a number from 0.0 to 1.0")
    metadata.setdefault("isClosed", "false")
    if metadata["isClosed"] not in ("true", "false"):
        raise validation_error("Deal stage metadata.isClosed must be true or false")
    return metadata


def _new_stage(state: SandboxState, raw: Any, order: int) -> Stage:
    if not isinstance(raw, dict) or not raw.get("label"):
        raise validation_error("Each stage needs a label")
    display = raw.get("displayOrder", order)
    now = state.now()
    return Stage(
        state.new_id(),
        str(raw["label"]),
        display if isinstance(display, int) else order,
        _metadata(raw.get("metadata")),
        now,
        now,
    )


def _stages(state: SandboxState, body: dict[str, Any]) -> list[Stage]:
    raw = body.get("stages")
    if not isinstance(raw, list) or not raw:
        raise validation_error("A pipeline needs at least one stage")
    return [_new_stage(state, item, n) for n, item in enumerate(raw)]


def _body(raw: Any, *, label: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise validation_error("Invalid input JSON: expected an object")
    if label and not raw.get("label"):
        raise validation_error("label is required")
    return raw


async def list_pipelines(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        live = sorted(
            (p for p in _pipelines(request).values() if not p.archived),
            key=lambda p: (p.display_order, p.label),
        )
        return answer({"results": [p.to_json() for p in live]})


async def create_pipeline(request: Request) -> Response:
    body = _body(await read_json(request), label=True)
    state = sandbox(request)
    with state.lock:
        pipelines, now = _pipelines(request), state.now()
        order = body.get("displayOrder", len(pipelines))
        pipeline = Pipeline(
            state.new_id(),
            str(body["label"]),
            order if isinstance(order, int) else 0,
            now,
            now,
            _stages(state, body),
        )
        pipelines[pipeline.id] = pipeline
        return answer(pipeline.to_json(), 201)


async def get_pipeline(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        return answer(_pipeline(request).to_json())


async def update_pipeline(request: Request) -> Response:
    body = _body(await read_json(request), label=False)
    state = sandbox(request)
    with state.lock:
        pipeline = _pipeline(request)
        if body.get("label"):
            pipeline.label = str(body["label"])
        if isinstance(body.get("displayOrder"), int):
            pipeline.display_order = body["displayOrder"]
        if body.get("archived") is True:
            pipeline.archived = True
        pipeline.updated_at = state.now()
        return answer(pipeline.to_json())


async def replace_pipeline(request: Request) -> Response:
    body = _body(await read_json(request), label=True)
    state = sandbox(request)
    with state.lock:
        pipeline = _pipeline(request)
        pipeline.label, pipeline.stages = str(body["label"]), _stages(state, body)
        if isinstance(body.get("displayOrder"), int):
            pipeline.display_order = body["displayOrder"]
        pipeline.updated_at = state.now()
        return answer(pipeline.to_json())


async def delete_pipeline(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        pipeline = _pipeline(request)
        pipeline.archived, pipeline.updated_at = True, state.now()
    return no_content()


async def list_stages(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        return answer({"results": [s.to_json() for s in _pipeline(request).live_stages()]})


async def create_stage(request: Request) -> Response:
    body = _body(await read_json(request), label=True)
    state = sandbox(request)
    with state.lock:
        pipeline = _pipeline(request)
        stage = _new_stage(state, body, len(pipeline.stages))
        pipeline.stages.append(stage)
        return answer(stage.to_json(), 201)


async def get_stage(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        return answer(_stage(request).to_json())


async def update_stage(request: Request) -> Response:
    body = _body(await read_json(request), label=False)
    state = sandbox(request)
    with state.lock:
        stage = _stage(request)
        if body.get("label"):
            stage.label = str(body["label"])
        if isinstance(body.get("displayOrder"), int):
            stage.display_order = body["displayOrder"]
        if "metadata" in body:
            stage.metadata = _metadata({**stage.metadata, **(body["metadata"] or {})})
        if body.get("archived") is True:
            stage.archived = True
        stage.updated_at = state.now()
        return answer(stage.to_json())


async def delete_stage(request: Request) -> Response:
    state = sandbox(request)
    with state.lock:
        stage = _stage(request)
        stage.archived, stage.updated_at = True, state.now()
    return no_content()


_BASE = "/crm/v3/pipelines/{objectType}"
_ONE = _BASE + "/{pipelineId}"
ROUTES = [
    Route(_BASE, list_pipelines, methods=["GET"]),
    Route(_BASE, create_pipeline, methods=["POST"]),
    Route(_ONE, get_pipeline, methods=["GET"]),
    Route(_ONE, update_pipeline, methods=["PATCH"]),
    Route(_ONE, replace_pipeline, methods=["PUT"]),
    Route(_ONE, delete_pipeline, methods=["DELETE"]),
    Route(_ONE + "/stages", list_stages, methods=["GET"]),
    Route(_ONE + "/stages", create_stage, methods=["POST"]),
    Route(_ONE + "/stages/{stageId}", get_stage, methods=["GET"]),
    Route(_ONE + "/stages/{stageId}", update_stage, methods=["PATCH"]),
    Route(_ONE + "/stages/{stageId}", delete_stage, methods=["DELETE"]),
]
