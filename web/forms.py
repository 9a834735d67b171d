"""The HTML lead forms: full pages without JavaScript, fragments and inline checks with htmx.

Every post goes through `accept_submission`, the same path as the JSON API; this module only
turns posted fields into a raw mapping and renders what comes back. Inline checks use
`PropertyMap.clean`, so they say exactly what the final submit would.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import pycountry
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from actors.services import property_map
from crm.mapping import FormSpec
from web.submit import accept_submission
from web.templating import templates

#: URL slug -> form type, in the order the landing page lists them.
FORM_SLUGS = {
    "contact": "contact",
    "demo-request": "demo_request",
    "quote-request": "quote_request",
}

#: Fields set by the upload flow, never typed: kept as hidden inputs when posted.
NOT_TYPED = frozenset({"uploadId"})
#: Fields an inline check shows back normalised, because the normal form helps the visitor.
SHOWN_NORMALISED = frozenset({"phone"})
TEXTAREAS = frozenset({"projectDetails"})
#: `<input type>` by the field's transform; anything else is a text input.
INPUT_TYPES = {"email": "email", "phone": "tel", "future_date": "date", "time": "time"}
AUTOCOMPLETE = {
    "firstName": "given-name",
    "lastName": "family-name",
    "email": "email",
    "company": "organization",
    "jobTitle": "organization-title",
    "phone": "tel",
    "country": "country",
}
HINTS = {
    "phone": "Numbers without a country code are read as numbers in the country above.",
    "serviceInterests": "Choose all that apply.",
}
#: Time zone areas worth offering; the rest of the IANA list is aliases and POSIX oddities.
TIME_ZONE_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
#: Partial responses differ from full pages on the same URL, so caches must key on it; and
#: pages carry a CSRF token or the visitor's typing, which no cache should keep.
FORM_HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}

Value = str | list[str]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class FieldView:
    """One field as the `_field.html` partial renders it."""

    name: str
    label: str
    widget: str  # "input", "textarea", "select" or "checkboxes"
    required: bool
    value: Value
    error: str | None
    validate_url: str
    input_type: str = "text"
    autocomplete: str | None = None
    max_length: int | None = None
    min_value: str | None = None
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def input_id(self) -> str:
        """The id a label or error-summary link points at (the first box of a group)."""
        if self.widget == "checkboxes" and self.options:
            return self.option_id(self.options[0][0])
        return self.name

    @property
    def error_id(self) -> str:
        return f"{self.name}-error"

    @property
    def hint_id(self) -> str:
        return f"{self.name}-hint"

    @property
    def described_by(self) -> str:
        ids = [self.hint_id] if self.hint else []
        if self.error:
            ids.append(self.error_id)
        return " ".join(ids)

    def option_id(self, option: str) -> str:
        return f"{self.name}-{option}"

    def is_selected(self, option: str) -> bool:
        return option in self.value if isinstance(self.value, list) else option == self.value


@dataclass(frozen=True)
class FormView:
    """A whole form as `_form.html` renders it."""

    form_type: str
    title: str
    action: str
    fields: tuple[FieldView, ...]
    hidden: Mapping[str, str]
    #: (message, id of the control to jump to, or None when the field is not shown)
    error_summary: tuple[tuple[str, str | None], ...]


def routes_for(slug: str, form_type: str) -> list[Route]:
    return [
        Route(f"/{slug}", form_page(form_type), methods=["GET", "POST"], name=f"{form_type}_form"),
        Route(
            f"/{slug}/validate/{{field}}",
            validate_field(form_type),
            methods=["POST"],
            name=f"{form_type}_validate",
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


def form_page(form_type: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            # Always the whole page: an htmx GET here would be a boosted link swapping <body>.
            return render_form(request, form_type, {}, {}, fragment=False)
        async with request.form() as form:
            raw = posted_fields(property_map().form(form_type), form)
        accepted = await accept_submission(form_type, raw)
        thanks_url = request.url_for("thanks").path
        if accepted.ok and is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": thanks_url, **FORM_HEADERS})
        if accepted.ok:
            return RedirectResponse(thanks_url, status_code=303, headers=FORM_HEADERS)
        # htmx swaps only 2xx answers, so its re-render is a 200; a plain post gets the 422.
        status_code = 200 if is_htmx(request) else 422
        return render_form(
            request, form_type, raw, accepted.errors, status_code, fragment=is_htmx(request)
        )

    return endpoint


def validate_field(form_type: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        spec = property_map().form(form_type)
        name = request.path_params["field"]
        if name not in spec.fields or name in NOT_TYPED:
            raise HTTPException(404, "This form has no such field.")
        async with request.form() as form:
            raw = posted_fields(spec, form)
        result = property_map().clean(form_type, raw)
        value = raw.get(name, "")
        if name in SHOWN_NORMALISED and name in result.values:
            value = result.values[name]
        field = build_field(request, spec, name, value, result.errors.get(name))
        return templates.TemplateResponse(
            request, "_field.html", {"field": field}, headers={"Cache-Control": "no-store"}
        )

    return endpoint


def render_form(
    request: Request,
    form_type: str,
    values: Mapping[str, Value],
    errors: Mapping[str, str],
    status_code: int = 200,
    *,
    fragment: bool,
) -> Response:
    """The whole page, or only the form for htmx to swap in place of the one posted."""
    form = build_form(request, form_type, values, errors)
    name = "_form.html" if fragment else "form_page.html"
    return templates.TemplateResponse(
        request, name, {"form": form}, status_code=status_code, headers=FORM_HEADERS
    )


def build_form(
    request: Request, form_type: str, values: Mapping[str, Value], errors: Mapping[str, str]
) -> FormView:
    spec = property_map().form(form_type)
    fields = tuple(
        build_field(request, spec, name, values.get(name, ""), errors.get(name))
        for name in spec.fields
        if name not in NOT_TYPED
    )
    ids = {field.name: field.input_id for field in fields}
    hidden = {
        name: value
        for name in NOT_TYPED & set(spec.fields)
        if isinstance(value := values.get(name), str) and value
    }
    return FormView(
        form_type=form_type,
        title=spec.title,
        action=request.url_for(f"{form_type}_form").path,
        fields=fields,
        hidden=hidden,
        error_summary=tuple((message, ids.get(name)) for name, message in errors.items()),
    )


def build_field(
    request: Request, spec: FormSpec, name: str, value: Value, error: str | None
) -> FieldView:
    field_spec = property_map().fields[name]
    options: tuple[tuple[str, str], ...] = ()
    widget = "input"
    if field_spec.transform in property_map().picklists:
        options = tuple(property_map().picklists[field_spec.transform].items())
        widget = "checkboxes" if field_spec.multiple else "select"
    elif field_spec.transform == "country":
        options, widget = country_options(), "select"
    elif field_spec.transform == "time_zone":
        options, widget = time_zone_options(), "select"
    elif name in TEXTAREAS:
        widget = "textarea"
    if field_spec.multiple and not isinstance(value, list):
        value = [value] if value else []
    return FieldView(
        name=name,
        label=field_spec.label,
        widget=widget,
        required=name in spec.required,
        value=value,
        error=error,
        validate_url=request.url_for(f"{spec.form_type}_validate", field=name).path,
        input_type=INPUT_TYPES.get(field_spec.transform, "text"),
        autocomplete=AUTOCOMPLETE.get(name),
        max_length=field_spec.max_length,
        min_value=earliest_date() if field_spec.transform == "future_date" else None,
        hint=HINTS.get(name),
        options=options,
    )


def posted_fields(spec: FormSpec, form: FormData) -> dict[str, Value]:
    """The form's own fields as posted: lists for multi-value fields, files and extras dropped."""
    raw: dict[str, Value] = {}
    for name in spec.fields:
        if property_map().fields[name].multiple:
            raw[name] = [value for value in form.getlist(name) if isinstance(value, str)]
        elif isinstance(value := form.get(name), str):
            raw[name] = value
    return raw


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


@functools.cache
def country_options() -> tuple[tuple[str, str], ...]:
    """(alpha-2, name) sorted by name; the short common name where ISO's is formal."""
    names = {
        country.alpha_2: getattr(country, "common_name", country.name)
        for country in pycountry.countries
    }
    return tuple(sorted(names.items(), key=lambda item: _sort_key(item[1])))


@functools.cache
def time_zone_options() -> tuple[tuple[str, str], ...]:
    zones = sorted(
        zone for zone in zoneinfo.available_timezones() if zone.startswith(TIME_ZONE_AREAS)
    )
    return (("UTC", "UTC"), *((zone, zone.replace("_", " ")) for zone in zones))


def earliest_date() -> str:
    """The `min` of the date picker: the server accepts yesterday (UTC) for time-zone slack."""
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def _sort_key(name: str) -> str:
    """Åland sorts with A, not after Z."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


routes: list[Route] = [
    Route("/", index, methods=["GET"], name="index"),
    Route("/thanks", thanks, methods=["GET"], name="thanks"),
    *(route for slug, form_type in FORM_SLUGS.items() for route in routes_for(slug, form_type)),
]
