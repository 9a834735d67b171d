"""The HTML lead forms, in steps: full pages without JavaScript, fragments with htmx.

Each step is a real `<form method=post>`. Its fields are checked on the server (the same
`PropertyMap.clean` the final submit uses) before the next step is shown; each completed
step is saved as a draft (`web/drafts.py`), so a visitor who leaves resumes where they
stopped. Only the last step goes through `check_submission` and `accept_submission`, the
same path as the JSON API. A returning visitor is not asked what we already hold
(`web/profiling.py`): those values are merged in on the server, never sent to the page.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from actors.services import property_map
from crm.mapping import CleanResult
from storage.drafts import Draft
from web.drafts import current_draft, forget_drafts, keep_draft
from web.fields import (
    SHOWN_NORMALISED,
    FieldView,
    Value,
    build_field,
    posted_values,
    present_values,
)
from web.profiling import Profile, forget_visitor, load_profile, remember_visitor
from web.protection import (
    HONEYPOT_FIELD,
    PROTECTION_FIELDS,
    RECAPTCHA_ACTION,
    RECAPTCHA_TOKEN_FIELD,
    check_submission,
    recaptcha_site_key,
)
from web.steps import NOT_TYPED, Step, steps_for
from web.submit import accept_submission
from web.templating import asset_version, static_path, templates

#: URL slug -> form type, in the order the landing page lists them.
FORM_SLUGS = {
    "contact": "contact",
    "demo-request": "demo_request",
    "quote-request": "quote_request",
}
#: The hidden input naming the step a post comes from, and the buttons' name and values.
STEP_FIELD = "step"
ACTION_FIELD = "action"
BACK = "back"
#: Key of a message about the whole form rather than one field (the error summary shows it).
FORM_ERROR = "__all__"
#: Fetches the reCAPTCHA v3 token as the last step is sent (only when reCAPTCHA is on).
RECAPTCHA_JS = "recaptcha.js"
#: Partial responses differ from full pages on the same URL, so caches must key on it; and
#: pages carry a CSRF token or the visitor's typing, which no cache should keep.
FORM_HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class StepView:
    """One entry of the step indicator."""

    number: int
    title: str
    state: str  # "done", "current" or "upcoming"


@dataclass(frozen=True)
class FormView:
    """One step of a form as `_form.html` renders it."""

    form_type: str
    title: str
    action: str
    fields: tuple[FieldView, ...]
    hidden: Mapping[str, str]
    #: (message, id of the control to jump to, or None when the field is not shown)
    error_summary: tuple[tuple[str, str | None], ...]
    steps: tuple[StepView, ...]
    step_number: int
    step_title: str
    #: Move focus to the step heading: the visitor arrived here from another step.
    focus_heading: bool
    #: The reCAPTCHA v3 site key, on the last step only and only when reCAPTCHA is on.
    recaptcha_site_key: str | None = None

    @property
    def step_count(self) -> int:
        return len(self.steps)

    @property
    def heading(self) -> str:
        return f"Step {self.step_number} of {self.step_count}: {self.step_title}"

    @property
    def is_last(self) -> bool:
        return self.step_number == self.step_count

    @property
    def honeypot_name(self) -> str:
        return HONEYPOT_FIELD

    @property
    def recaptcha_token_name(self) -> str:
        return RECAPTCHA_TOKEN_FIELD

    @property
    def page_title(self) -> str:
        prefix = "Error: " if self.error_summary else ""
        return f"{prefix}{self.heading} – {self.title}"


@dataclass
class Visit:
    """One visitor at one form: what we already hold about them, and their draft."""

    form_type: str
    profile: Profile | None
    draft: Draft | None

    @functools.cached_property
    def known(self) -> dict[str, Value]:
        """Profile values of this form's fields: not asked, merged in on the server."""
        if self.profile is None:
            return {}
        form_fields = property_map().form(self.form_type).fields
        return {name: v for name, v in self.profile.known.items() if name in form_fields}

    @functools.cached_property
    def steps(self) -> tuple[Step, ...]:
        """The steps still worth showing, each without the fields we already hold."""
        known = self.known
        steps = tuple(
            Step(step.key, step.title, tuple(name for name in step.fields if name not in known))
            for step in steps_for(self.form_type)
        )
        return tuple(step for step in steps if step.fields) or steps[-1:]

    @property
    def asked(self) -> tuple[str, ...]:
        return tuple(name for step in self.steps for name in step.fields)

    @property
    def collected(self) -> dict[str, Value]:
        """What the draft holds of the fields still asked (and of the upload flow's)."""
        if self.draft is None:
            return {}
        keep = {*self.asked, *NOT_TYPED}
        return {name: value for name, value in self.draft.fields.items() if name in keep}

    def step(self, key: object) -> Step | None:
        return next((step for step in self.steps if step.key == key), None)

    def resume_step(self) -> Step:
        return (self.draft and self.step(self.draft.step)) or self.steps[0]

    def neighbour(self, step: Step, offset: int) -> Step:
        index = self.steps.index(step) + offset
        return self.steps[max(0, min(index, len(self.steps) - 1))]

    def first_step_with(self, errors: Mapping[str, str]) -> Step:
        """The earliest step showing one of the errors; the last when none shows any."""
        return next(
            (step for step in self.steps if any(name in errors for name in step.fields)),
            self.steps[-1],
        )


def routes_for(slug: str, form_type: str) -> list[Route]:
    return [
        Route(f"/{slug}", form_page(form_type), methods=["GET", "POST"], name=f"{form_type}_form"),
        Route(
            f"/{slug}/validate/{{field}}",
            validate_field(form_type),
            methods=["POST"],
            name=f"{form_type}_validate",
        ),
        Route(
            f"/{slug}/not-you",
            not_you(form_type),
            methods=["POST"],
            name=f"{form_type}_not_you",
        ),
    ]


async def index(request: Request) -> Response:
    forms = [
        (request.url_for(f"{form_type}_form").path, property_map().form(form_type).title)
        for form_type in FORM_SLUGS.values()
    ]
    return templates.TemplateResponse(request, "index.html", {"forms": forms})


async def thanks(request: Request) -> Response:
    return templates.TemplateResponse(request, "thanks.html")


async def load_visit(request: Request, form_type: str) -> Visit:
    return Visit(form_type, await load_profile(request), await current_draft(request, form_type))


def form_page(form_type: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        visit = await load_visit(request, form_type)
        if request.method == "GET":
            # Always the whole page: an htmx GET here would be a boosted link swapping <body>.
            step = visit.resume_step()
            focus = step != visit.steps[0]
            return render_step(request, visit, step, visit.collected, {}, focus=focus)
        async with request.form() as form:
            return await post_step(request, visit, form)

    return endpoint


async def post_step(request: Request, visit: Visit, form: FormData) -> Response:
    """Back, on to the next step, or (from the last step) send the whole form."""
    step = visit.step(form.get(STEP_FIELD))
    # A post naming no step is the whole form at once (a page of ours from before steps).
    posted = posted_values(form, step.fields if step else visit.asked)
    collected = visit.collected | posted | present_values(form, NOT_TYPED)
    if step is not None and form.get(ACTION_FIELD) == BACK:
        return await move_to(request, visit, collected, visit.neighbour(step, -1))

    values = collected | visit.known
    result = property_map().clean(visit.form_type, values)
    collected |= normalised(result, posted)
    if step is not None and (errors := errors_of(result, step.fields)):
        return render_step(request, visit, step, collected, errors, status_code=422)
    if step is not None and step != visit.steps[-1]:
        return await move_to(request, visit, collected, visit.neighbour(step, 1))
    if result.errors:
        # The whole form at once, or an earlier step's answer that no longer passes.
        return await back_to_first_error(request, visit, collected, result.errors)

    shown = step or visit.steps[-1]
    protection = {name: v for name in PROTECTION_FIELDS if isinstance(v := form.get(name), str)}
    rejection = await check_submission(request, values | protection, action=RECAPTCHA_ACTION)
    if rejection is not None and rejection.pretend_success:
        return await finish(request, visit, None)
    if rejection is not None:
        errors = rejection.errors or {FORM_ERROR: rejection.message}
        response = render_step(
            request, visit, shown, collected, errors, status_code=rejection.status_code
        )
        response.headers.update(rejection.headers)
        return response

    accepted = await accept_submission(visit.form_type, collected | visit.known)
    if not accepted.ok:
        return await back_to_first_error(request, visit, collected, accepted.errors)
    return await finish(request, visit, accepted.submission_id)


async def back_to_first_error(
    request: Request, visit: Visit, collected: Mapping[str, Value], errors: Mapping[str, str]
) -> Response:
    """Keep everything as a draft and show the first step with something to fix."""
    step = visit.first_step_with(errors)
    response = render_step(request, visit, step, collected, errors, status_code=422)
    await keep_draft(request, response, visit.form_type, collected, step.key)
    return response


async def move_to(
    request: Request, visit: Visit, collected: Mapping[str, Value], step: Step
) -> Response:
    """Save the draft at `step` and show it: in place for htmx, else by redirect (so a
    reload does not post again)."""
    if is_htmx(request):
        response = render_step(request, visit, step, collected, {}, focus=True)
    else:
        action = request.url_for(f"{visit.form_type}_form").path
        response = RedirectResponse(action, status_code=303, headers=FORM_HEADERS)
    await keep_draft(request, response, visit.form_type, collected, step.key)
    return response


async def finish(request: Request, visit: Visit, submission_id: uuid.UUID | None) -> Response:
    """To the thanks page: the draft is spent, and the visitor is known next time."""
    thanks_url = request.url_for("thanks").path
    response: Response
    if is_htmx(request):
        response = Response(status_code=200, headers={"HX-Redirect": thanks_url, **FORM_HEADERS})
    else:
        response = RedirectResponse(thanks_url, status_code=303, headers=FORM_HEADERS)
    await forget_drafts(request, response, [visit.form_type])
    if submission_id is not None:
        remember_visitor(request, response, submission_id)
    return response


def not_you(form_type: str) -> Endpoint:
    """Forget who this browser belongs to: the visitor cookie and every draft."""

    async def endpoint(request: Request) -> Response:
        action = request.url_for(f"{form_type}_form").path
        response = RedirectResponse(action, status_code=303, headers=FORM_HEADERS)
        forget_visitor(request, response)
        await forget_drafts(request, response, FORM_SLUGS.values())
        return response

    return endpoint


def validate_field(form_type: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        spec = property_map().form(form_type)
        name = request.path_params["field"]
        if name not in spec.fields or name in NOT_TYPED:
            raise HTTPException(404, "This form has no such field.")
        visit = await load_visit(request, form_type)
        async with request.form() as form:
            posted = present_values(form, spec.fields)
        # The other steps' answers are context: a national phone number needs the country.
        result = property_map().clean(form_type, visit.collected | visit.known | posted)
        value = posted.get(name, "")
        if name in SHOWN_NORMALISED and name in result.values:
            value = result.values[name]
        field = build_field(request, spec, name, value, result.errors.get(name))
        return templates.TemplateResponse(
            request, "_field.html", {"field": field}, headers={"Cache-Control": "no-store"}
        )

    return endpoint


def normalised(result: CleanResult, posted: Mapping[str, Value]) -> dict[str, Value]:
    """Posted values shown back in their normal form (a phone number in E.164)."""
    return {
        name: result.values[name]
        for name in SHOWN_NORMALISED
        if name in posted and name in result.values
    }


def errors_of(result: CleanResult, names: Iterable[str]) -> dict[str, str]:
    names = set(names)
    return {name: message for name, message in result.errors.items() if name in names}


def render_step(
    request: Request,
    visit: Visit,
    step: Step,
    values: Mapping[str, Value],
    errors: Mapping[str, str],
    status_code: int = 200,
    *,
    focus: bool = False,
) -> Response:
    """The whole page, or only the step's form for htmx to swap in place of the one posted.

    htmx swaps only 2xx answers, so its re-render with errors is a 200; a plain post gets
    `status_code`.
    """
    form = build_form(request, visit, step, values, errors, focus=focus)
    if is_htmx(request) and request.method == "POST":
        return templates.TemplateResponse(
            request, "_form_fragment.html", {"form": form}, headers=FORM_HEADERS
        )
    first_name = visit.profile.first_name if visit.profile else None
    context = {
        "form": form,
        "welcome_name": first_name,
        "returning": visit.profile is not None,
        "not_you_url": request.url_for(f"{visit.form_type}_not_you").path,
        "page_recaptcha_key": recaptcha_site_key(),
        "recaptcha_src": f"{static_path(request, RECAPTCHA_JS)}?v={asset_version(RECAPTCHA_JS)}",
    }
    return templates.TemplateResponse(
        request, "form_page.html", context, status_code=status_code, headers=FORM_HEADERS
    )


def build_form(
    request: Request,
    visit: Visit,
    step: Step,
    values: Mapping[str, Value],
    errors: Mapping[str, str],
    *,
    focus: bool = False,
) -> FormView:
    spec = property_map().form(visit.form_type)
    fields = tuple(
        build_field(request, spec, name, values.get(name, ""), errors.get(name))
        for name in step.fields
    )
    ids = {field.name: field.input_id for field in fields}
    hidden = {STEP_FIELD: step.key} | {
        name: value
        for name in sorted(NOT_TYPED & set(spec.fields))
        if isinstance(value := values.get(name), str) and value
    }
    # Errors of fields another step shows wait for that step; the rest are summarised here.
    elsewhere = {name for other in visit.steps if other != step for name in other.fields}
    number = visit.steps.index(step) + 1
    is_last = number == len(visit.steps)
    return FormView(
        form_type=visit.form_type,
        title=spec.title,
        action=request.url_for(f"{visit.form_type}_form").path,
        fields=fields,
        hidden=hidden,
        error_summary=tuple(
            (message, ids.get(name)) for name, message in errors.items() if name not in elsewhere
        ),
        steps=tuple(
            StepView(
                index,
                other.title,
                "done" if index < number else "current" if index == number else "upcoming",
            )
            for index, other in enumerate(visit.steps, start=1)
        ),
        step_number=number,
        step_title=step.title,
        focus_heading=focus,
        recaptcha_site_key=recaptcha_site_key() if is_last else None,
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


routes: list[Route] = [
    Route("/", index, methods=["GET"], name="index"),
    Route("/thanks", thanks, methods=["GET"], name="thanks"),
    *(route for slug, form_type in FORM_SLUGS.items() for route in routes_for(slug, form_type)),
]
