"""Response times of the admin dashboard on a production-sized PostgreSQL database.

Issue 6 asks that, with 100,000 submissions and 1,000,000 HubSpot audit rows, the overview
and list pages answer in under 200 ms each. This makes a scratch database on the PostgreSQL
server, migrates it as `just migrate` does, bulk-loads realistic rows with COPY, then serves
the app as production does (`uvicorn web.main:app`, Redis, PostgreSQL) and times an admin's
requests to each page over HTTP, signed in. Prints median, p95 and max per page; exits 1 if
a median passes the target or a page does not answer 200. The scratch database is dropped
in every case.

    just bench-admin       # or: .venv/bin/python -m bench.admin_pages --submissions 100000
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2 as httpx
import redis

from tests.integration.processes import free_port, scratch_database, stack
from tests.web.form_pages import Page

ROOT = Path(__file__).resolve().parent.parent
#: The issue's bound on each page's median response time, in milliseconds.
TARGET_MEDIAN_MS = 200.0
#: Rows per COPY batch: keeps the generated rows' memory flat whatever the counts.
BATCH_ROWS = 100_000
#: Calls in the last hour, per million calls: a busy hour, ~4x the average.
LAST_HOUR_CALLS_PER_MILLION = 6_000
SUBMISSION_DAYS = 90
CALL_DAYS = 30
#: A Redis database of its own, flushed before and after (the tests use 15).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
DEFAULT_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
USERNAME = "bench"
PASSWORD = "bench passphrase, not a real one"
METRICS_TOKEN = "bench-metrics-token"

FORM_TYPES = ("contact", "demo_request", "quote_request")
FORM_CUMULATIVE = (0.5, 0.8, 1.0)  # half contact, 30 % demo, 20 % quote requests
DEAL_NAMES = {
    "contact": "website enquiry",
    "demo_request": "demo request",
    "quote_request": "quote request",
}
LIFECYCLE = {
    "contact": "lead",
    "demo_request": "salesqualifiedlead",
    "quote_request": "opportunity",
}
SERVICES = {
    "data_collection": "Data Collection",
    "data_preparation": "Data Preparation",
    "data_annotation": "Data Annotation",
    "ai_model_development": "AI Model Development",
    "human_in_the_loop": "Human-in-the-Loop",
    "digital_transformation": "Digital Transformation",
}
SERVICE_KEYS = sorted(SERVICES)
FIRST_NAMES = ("Ada", "Grace", "Priya", "Wei", "Amara", "Lars", "Sofia", "Yuki", "Omar", "Kofi")
LAST_NAMES = ("Lovelace", "Hopper", "Shah", "Zhang", "Okafor", "Nilsen", "Rossi", "Tanaka", "Chen")
COMPANIES = ("Globex", "Initech", "Umbrella", "Hooli", "Acme", "Tyrell", "Wonka", "Aperture")
COUNTRIES = ("GB", "US", "DE", "FR", "IN", "NG", "JP", "BR", "NL", "SE", "ES", "CA")
#: Project descriptions are drawn from these, so rows have a realistic width.
WORDS = ("we", "need", "labelled", "images", "for", "a", "model", "per", "week", "with", "review")
#: (operation, share of calls): what a sync and an upload update call, as crm/client.py names them.
OPERATIONS = (
    ("create_contact", 0.20),
    ("update_contact", 0.09),
    ("upsert_deal", 0.10),
    ("create_deal", 0.11),
    ("update_deal", 0.03),
    ("associate_deal_contact", 0.17),
    ("log_activity", 0.17),
    ("read_notes", 0.05),
    ("get_contact", 0.04),
    ("find_contact", 0.02),
    ("list_associations", 0.02),
)
#: (outcome, share, HTTP statuses): ErrorKind values, as actors/audit.py records them.
OUTCOMES = (
    ("ok", 0.925, (200, 201, 200, 204)),
    ("conflict", 0.03, (409,)),
    ("transient", 0.025, (502, 503, 504, 0)),
    ("rate_limited", 0.015, (429,)),
    ("permanent", 0.004, (400, 404)),
    ("authentication", 0.001, (401,)),
)
ERROR_MESSAGES = {
    "conflict": "Contact already exists. Existing ID: {object_id}",
    "transient": "no answer from HubSpot (ReadTimeoutError)",
    "rate_limited": "You have reached your secondly limit.",
    "permanent": "Property values were not valid: budget is not a valid option",
    "authentication": "Authentication credentials not found.",
}

#: A row to COPY: column name -> value.
Row = dict[str, Any]


@dataclass(frozen=True)
class PageCheck:
    """One dashboard request to time: a GET, or a POST of `form` (CSRF token added)."""

    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None


@dataclass
class Timing:
    check: PageCheck
    status: int
    times_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def passed(self) -> bool:
        return self.status == 200 and self.median_ms < TARGET_MEDIAN_MS


#: How deep into the submissions an admin pages (keyset pages: the cursor is in the link).
DEEP_PAGE = 50


def pages(submission_id: uuid.UUID, email: str, deep: tuple[int, str]) -> list[PageCheck]:
    """What an admin opens: the overview (and its polled fragment), each list, a detail."""
    htmx = {"HX-Request": "true"}
    number, deep_path = deep
    return [
        PageCheck("overview", "/admin/"),
        PageCheck("overview live fragment", "/admin/live", headers=htmx),
        PageCheck("submissions", "/admin/submissions"),
        PageCheck("submissions failed", "/admin/submissions?status=failed"),
        PageCheck("submissions quotes", "/admin/submissions?form_type=quote_request"),
        PageCheck("submissions e-mail search", f"/admin/submissions?q={email.split('@')[0]}"),
        PageCheck(f"submissions page {number}", deep_path),
        PageCheck("submission detail", f"/admin/submissions/{submission_id}"),
        PageCheck("uploads", "/admin/uploads"),
        PageCheck("people search", "/admin/people", form={"email": email}),
        PageCheck("activity", "/admin/activity"),
        PageCheck("metrics", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}),
    ]


# The rows


@dataclass(frozen=True)
class Person:
    """A visitor; most come back, so 30,000 of them make 100,000 submissions."""

    email: str
    first: str
    last: str
    company: str
    country: str
    phone: str
    contact_id: str


def people(count: int, rng: random.Random) -> list[Person]:
    result: list[Person] = []
    for n in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        domain = f"{company.lower()}{n % 97}.example.com"
        result.append(
            Person(
                email=f"{first.lower()}.{last.lower()}{n}@{domain}",
                first=first,
                last=last,
                company=f"{company} {rng.choice(('Ltd', 'Inc', 'GmbH', 'SA', 'Labs'))}",
                country=rng.choice(COUNTRIES),
                phone=f"+44 20 7946 {n % 10_000:04d}",
                contact_id=str(100_000_000 + n),
            )
        )
    return result


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def project_details(rng: random.Random, count: int = 1_000) -> list[str]:
    """Descriptions of 8 to 90 words, drawn once: drawing words per row would double the
    load time."""
    return [
        " ".join(rng.choices(WORDS, k=rng.randint(8, 90))).capitalize() + "." for _ in range(count)
    ]


def submission_fields(
    person: Person, form_type: str, submission_id: uuid.UUID, details: str, rng: random.Random
) -> tuple[str, str, str, str]:
    """The four JSON columns as the form pages fill them: raw, contact, deal, summary."""
    interests = rng.sample(SERVICE_KEYS, rng.randint(1, 3))
    raw: dict[str, Any] = {
        "email": person.email,
        "firstName": person.first,
        "lastName": person.last,
        "company": person.company,
        "country": person.country,
        "phone": person.phone,
        "serviceInterests": interests,
        "jobTitle": rng.choice(("CTO", "Head of Data", "ML Engineer", "Product Manager")),
        "projectDetails": details,
        "marketingConsent": rng.random() < 0.4,
    }
    if form_type == "demo_request":
        raw |= {"preferredDate": "2026-12-15", "preferredTime": "14:30", "timeZone": "Europe/Paris"}
    elif form_type == "quote_request":
        raw |= {"budget": rng.choice(("10k_50k", "50k_100k")), "timeline": "1_3_months"}
    contact = {
        "email": person.email,
        "firstname": person.first,
        "lastname": person.last,
        "company": person.company,
        "country": person.country,
        "phone": person.phone.replace(" ", ""),
        "jobtitle": raw["jobTitle"],
        "service_interest": ";".join(SERVICES[key] for key in interests),
        "project_description": details,
        "form_type": form_type,
        "lead_source": "Website",
        "lifecyclestage": LIFECYCLE[form_type],
    }
    deal = {
        "dealname": f"{person.company} - {DEAL_NAMES[form_type]}",
        "pipeline": "default",
        "dealstage": "qualifiedtobuy" if form_type == "quote_request" else "appointmentscheduled",
        "submission_id": str(submission_id),
        "form_type": form_type,
    }
    summary = {
        "Work e-mail": person.email,
        "First name": person.first,
        "Last name": person.last,
        "Company": person.company,
        "Country": person.country,
        "Services of interest": ", ".join(SERVICES[key] for key in interests),
        "Project details": details,
    }
    return json.dumps(raw), json.dumps(contact), json.dumps(deal), json.dumps(summary)


def submission_rows(
    count: int, now: dt.datetime, rng: random.Random
) -> tuple[list[Row], list[tuple[dt.datetime, uuid.UUID]]]:
    """Rows over 90 days, ~30 % as many e-mails as rows; recent ones still on their way.

    Returns the rows and their (created_at, id) in time order, to link calls to.
    """
    crowd = people(max(1, count * 3 // 10), rng)
    descriptions = project_details(rng)
    span_s = SUBMISSION_DAYS * 86_400
    created = sorted(now - dt.timedelta(seconds=rng.random() * span_s) for _ in range(count))
    rows: list[Row] = []
    second = dt.timedelta(seconds=1)
    for at in created:
        submission_id = _uuid(rng)
        person = rng.choice(crowd)
        form_type = rng.choices(FORM_TYPES, cum_weights=FORM_CUMULATIVE)[0]
        recent = now - at < dt.timedelta(hours=1)
        status = rng.choices(
            ("synced", "failed", "pending", "syncing"),
            cum_weights=(0.4, 0.4, 0.9, 1.0) if recent else (0.92, 0.98, 1.0, 1.0),
        )[0]
        details = rng.choice(descriptions)
        raw, contact, deal, summary = submission_fields(
            person, form_type, submission_id, details, rng
        )
        row: Row = {
            "id": submission_id,
            "form_type": form_type,
            "status": status,
            "email": person.email,
            "raw_fields": raw,
            "contact_properties": contact,
            "deal_properties": deal,
            "summary": summary,
            "attempts": 1,
            "hubspot_contact_id": person.contact_id if status != "pending" else None,
            "created_at": at,
            "updated_at": at,
        }
        if status == "synced":
            synced = at + second * rng.uniform(1, 20)
            row |= {
                "hubspot_deal_id": str(rng.randrange(10**10)),
                "hubspot_activity_id": str(rng.randrange(10**10)),
                "association_verified_at": synced,
                "activity_attempted_at": synced,
                "synced_at": synced,
                "updated_at": synced,
            }
        elif status == "failed":
            correlation = str(_uuid(rng))
            row |= {
                "attempts": 4,
                "last_error_correlation_id": correlation,
                "last_error": "create_deal: Property values were not valid: budget is not a "
                f"valid option (HTTP 400, correlationId {correlation})",
            }
        elif status == "pending":
            row["attempts"] = rng.choice((0, 0, 1, 2))
            if row["attempts"]:
                row["next_attempt_at"] = now + second * rng.uniform(5, 120)
                row["last_error"] = "create_contact: no answer from HubSpot (ReadTimeoutError)"
        else:
            row["lease_until"] = now + second * 300
        rows.append(row)
    return rows, [(row["created_at"], row["id"]) for row in rows]


def call_times(count: int, now: dt.datetime, rng: random.Random) -> list[dt.datetime]:
    """Spread over 30 days, with the last hour busy (6,000 per million calls), in order."""
    last_hour = min(count, count * LAST_HOUR_CALLS_PER_MILLION // 1_000_000)
    older_span_s = CALL_DAYS * 86_400 - 3_600
    offsets = [3_600 + rng.random() * older_span_s for _ in range(count - last_hour)]
    offsets += [rng.random() * 3_600 for _ in range(last_hour)]
    offsets.sort(reverse=True)
    return [now - dt.timedelta(seconds=offset) for offset in offsets]


def call_rows(
    times: Sequence[dt.datetime],
    submissions: Sequence[tuple[dt.datetime, uuid.UUID]],
    rng: random.Random,
) -> Iterator[list[Row]]:
    """Batches of calls, each linked to a submission made shortly before it (15 % to none:
    upload updates, portal set-up)."""
    created = [at for at, _ in submissions]
    operations = [operation for operation, _ in OPERATIONS]
    operation_weights = list(itertools.accumulate(share for _, share in OPERATIONS))
    operation_total = operation_weights[-1]
    outcome_weights = list(itertools.accumulate(share for _, share, _ in OUTCOMES))
    outcome_weights[-1] = 1.0  # rounding must not leave a gap at the top
    batch: list[Row] = []
    for at in times:
        # bisect on cumulative shares: rng.choices costs a third of the load time here.
        operation = operations[bisect.bisect(operation_weights, rng.random() * operation_total)]
        outcome, _, statuses = OUTCOMES[bisect.bisect(outcome_weights, rng.random())]
        status = rng.choice(statuses)
        before = bisect.bisect_right(created, at)
        submission_id = None
        if before and rng.random() < 0.85:
            submission_id = submissions[max(0, before - 1 - int(rng.expovariate(0.1)))][1]
        row: Row = {
            "at": at,
            "operation": operation,
            "status": status,
            "outcome": outcome,
            "duration_ms": 0.0,
            "object_id": None,
            "submission_id": submission_id,
            "correlation_id": None,
            "error": None,
        }
        if outcome == "ok":
            row["duration_ms"] = round(rng.lognormvariate(math.log(180), 0.5), 2)
            row["object_id"] = str(rng.randrange(10**10))
        else:
            typical_ms = 120 if outcome == "rate_limited" else 300
            waited_ms = rng.lognormvariate(math.log(typical_ms), 0.6)
            row["duration_ms"] = 10_000.0 if status == 0 else round(waited_ms, 2)
            message = ERROR_MESSAGES[outcome].format(object_id=rng.randrange(10**8))
            row["error"] = f"{operation}: {message}" + (f" (HTTP {status})" if status else "")
            row["correlation_id"] = str(_uuid(rng)) if status else None
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def upload_rows(
    count: int, emails: Sequence[str], now: dt.datetime, rng: random.Random
) -> tuple[list[Row], list[Row]]:
    """Uploads over 90 days (files past 30 days purged) and the analyses still kept."""
    uploads: list[Row] = []
    analyses: list[Row] = []
    minute = dt.timedelta(minutes=1)
    for _ in range(count):
        upload_id = _uuid(rng)
        at = now - dt.timedelta(seconds=rng.random() * SUBMISSION_DAYS * 86_400)
        status = rng.choices(
            ("completed", "failed", "pending", "processing"), (0.85, 0.08, 0.05, 0.02)
        )[0]
        size = rng.randrange(10_000, 200_000_000)
        kind = rng.choice(("csv", "xlsx", "jsonl", "json", "tsv"))
        done = status == "completed"
        purged = at + dt.timedelta(days=30) if now - at > dt.timedelta(days=30) else None
        score = round(rng.uniform(0.5, 1), 3) if done else None
        uploads.append(
            {
                "id": upload_id,
                "email": rng.choice(emails),
                "filename": "" if purged else f"sample-{rng.randrange(1000)}.{kind}",
                "content_type": "text/csv",
                "declared_size": size,
                "object_key": f"uploads/{upload_id}",
                "status": status,
                "message": "The file is not a CSV: it looks like a ZIP archive."
                if status == "failed"
                else None,
                "size_bytes": size if status != "pending" else None,
                "file_type": kind if done else None,
                "quality_score": score,
                "attempts": 1 if status != "pending" else 0,
                "expires_at": at + 10 * minute,
                "results_url": f"https://example.com/uploads/{upload_id}?signature=x",
                "created_at": at,
                "updated_at": at + 2 * minute,
                "uploaded_at": at + minute if status != "pending" else None,
                "analysed_at": at + 2 * minute if done else None,
                "purged_at": purged,
                "crm_status": "synced" if done else None,
                "crm_attempts": 1 if done else 0,
                "hubspot_contact_id": str(rng.randrange(10**9)) if done else None,
            }
        )
        if done and not purged:
            columns = [
                {"name": f"column_{n}", "type": rng.choice(("integer", "text", "date"))}
                for n in range(rng.randint(3, 30))
            ]
            results = {
                "file_type": kind,
                "row_count": rng.randrange(100, 2_000_000),
                "quality_score": score,
                "duplicate_share": round(rng.random() / 10, 3),
                "columns": columns,
                "summary": "A tidy table with a few gaps.",
            }
            analyses.append(
                {"id": upload_id, "results": json.dumps(results), "created_at": at + 2 * minute}
            )
    return uploads, analyses


def admin_action_rows(
    count: int, targets: Sequence[uuid.UUID], now: dt.datetime, rng: random.Random
) -> list[Row]:
    names = ("sign_in", "sign_out", "retry_submission", "retry_upload")
    rows: list[Row] = []
    for _ in range(count):
        action = rng.choices(names, (0.3, 0.1, 0.5, 0.1))[0]
        rows.append(
            {
                "at": now - dt.timedelta(seconds=rng.random() * SUBMISSION_DAYS * 86_400),
                "username": rng.choice(("ops", "sam", "lee")),
                "action": action,
                "target": str(rng.choice(targets)) if action.startswith("retry") else None,
                "detail": json.dumps({"ip": "10.0.0.7"} if action == "sign_in" else {}),
            }
        )
    return rows


def alert_rows(count: int, now: dt.datetime, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for _ in range(count):
        at = now - dt.timedelta(seconds=rng.random() * CALL_DAYS * 86_400)
        metric, value, threshold = rng.choice(
            (("error_rate", 0.12, 0.05), ("queue_depth", 1200.0, 1000.0), ("p95_ms", 4100, 3000))
        )
        resolved = at + dt.timedelta(minutes=rng.randint(2, 90))
        rows.append(
            {
                "at": at,
                "metric": metric,
                "value": value,
                "threshold": threshold,
                "message": f"{metric} at {value} (threshold {threshold})",
                "resolved_at": resolved if resolved < now else None,
            }
        )
    return rows


async def copy(connection: asyncpg.Connection, table: str, rows: Sequence[Row]) -> None:
    """COPY rows into `table`: a column some rows leave out is NULL in those."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    records = [tuple(row.get(column) for column in columns) for row in rows]
    await connection.copy_records_to_table(table, records=records, columns=columns)


@dataclass(frozen=True)
class Loaded:
    submission_id: uuid.UUID
    email: str
    seconds: float
    counts: dict[str, int]
    size: str


async def load(url: str, submissions: int, calls: int, seed: int) -> Loaded:
    """Bulk-load every table with COPY, then VACUUM ANALYZE as autovacuum would have."""
    started = time.perf_counter()
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    connection = await asyncpg.connect(url)
    try:
        rows, index = submission_rows(submissions, now, rng)
        await copy(connection, "submissions", rows)
        emails = sorted({row["email"] for row in rows})
        # The detail page of a failed submission with calls in the log: the most to show.
        recent = now - dt.timedelta(days=CALL_DAYS - 1)
        failed = [row for row in rows if row["status"] == "failed" and row["created_at"] > recent]
        detail = (failed or rows)[-1]
        del rows
        for batch in call_rows(call_times(calls, now, rng), index, rng):
            await copy(connection, "hubspot_calls", batch)
        uploads, analyses = upload_rows(max(1, submissions // 50), emails, now, rng)
        await copy(connection, "uploads", uploads)
        await copy(connection, "upload_analyses", analyses)
        targets = [submission_id for _, submission_id in index]
        actions = admin_action_rows(submissions // 20, targets, now, rng)
        await copy(connection, "admin_actions", actions)
        await copy(connection, "alerts", alert_rows(200, now, rng))
        await connection.execute("VACUUM (ANALYZE)")
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("submissions", "hubspot_calls", "uploads", "admin_actions")
        }
        size = await connection.fetchval(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        )
    finally:
        await connection.close()
    seconds = time.perf_counter() - started
    return Loaded(detail["id"], detail["email"], seconds, counts, size)


# Serving and timing


def run(command: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    """Run a product command; on failure, stop with what it printed."""
    done = subprocess.run(command, input=stdin, text=True, env=env, cwd=ROOT, capture_output=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{done.stdout}{done.stderr}")


def sign_in(client: httpx.Client) -> None:
    page = Page(client.get("/admin/login").text)
    token = page.one("input", name="csrf_token")["value"]
    fields = {"username": USERNAME, "password": PASSWORD, "csrf_token": token, "next": "/admin/"}
    answer = client.post("/admin/login", data=fields, follow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:200]}")


def older_page(client: httpx.Client, path: str, pages: int) -> tuple[int, str]:
    """Follow the list's "Older" link as an admin would; returns (page number, its path)."""
    number = 1
    while number < pages:
        older = Page(client.get(path).text).find("a", rel="next")
        if not older or not older[0]["href"]:
            break
        path, number = older[0]["href"], number + 1
    return number, path


def time_page(
    client: httpx.Client, check: PageCheck, csrf_token: str, requests: int, warm_up: int
) -> Timing:
    """Sequential requests on one kept-alive connection: the server's time plus loopback."""

    def send() -> httpx.Response:
        if check.form is None:
            return client.get(check.path, headers=check.headers)
        form = check.form | {"csrf_token": csrf_token}
        return client.post(check.path, data=form, headers=check.headers)

    status = 0
    for _ in range(warm_up):
        status = send().status_code
    if status != 200:
        return Timing(check, status, [0.0])
    times_ms = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = send()
        times_ms.append((time.perf_counter() - started) * 1000)
        status = answer.status_code if status == 200 else status
    return Timing(check, status, times_ms)


def serve_and_time(
    database_url: str, redis_url: str, loaded: Loaded, requests: int, log_dir: Path
) -> list[Timing]:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key-not-for-production",
        # The web process never calls HubSpot; a loopback address keeps it off the network.
        "HUBSPOT_API_KEY": "pat-bench-not-a-token",
        "HUBSPOT_API_URL": "http://127.0.0.1:9",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    port = free_port()
    with stack(env, log_dir) as running:
        create = [sys.executable, "-m", "storage.create_admin", USERNAME, "bench@example.com"]
        run([*create, "--password-stdin"], env, stdin=f"{PASSWORD}\n")
        running.web(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            sign_in(client)
            # Every form of a page carries the same token (the sign-out form, say).
            forms = Page(client.get("/admin/people").text).find("input", name="csrf_token")
            csrf_token = forms[0]["value"] or ""
            deep = older_page(client, "/admin/submissions", DEEP_PAGE)
            return [
                time_page(client, check, csrf_token, requests, warm_up=3)
                for check in pages(loaded.submission_id, loaded.email, deep)
            ]


def report(timings: Sequence[Timing]) -> None:
    print(f"{'page':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  result")
    for timing in timings:
        name = timing.check.name
        if timing.status != 200:
            print(f"{name:<28} {'':>10} {'':>8} {'':>8}  FAIL (HTTP {timing.status})")
        else:
            verdict = "PASS" if timing.passed else "FAIL"
            print(
                f"{name:<28} {timing.median_ms:>10.1f} {timing.p95_ms:>8.1f} "
                f"{max(timing.times_ms):>8.1f}  {verdict}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000, help="hubspot_calls rows")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_URL, help="server URL")
    parser.add_argument("--redis", default=DEFAULT_REDIS_URL, help="a Redis DB to flush")
    args = parser.parse_args()
    flushed = redis.Redis.from_url(args.redis)
    flushed.flushdb()
    try:
        with (
            scratch_database(args.postgres) as database_url,
            tempfile.TemporaryDirectory(prefix="leadsync-bench-") as log_dir,
        ):
            migrate = [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"]
            run(migrate, os.environ | {"DATABASE_URL": database_url})
            loaded = asyncio.run(load(database_url, args.submissions, args.calls, args.seed))
            counts = ", ".join(f"{n:,} {table}" for table, n in loaded.counts.items())
            print(f"loaded:   {counts} ({loaded.size}) in {loaded.seconds:.1f} s")
            timings = serve_and_time(database_url, args.redis, loaded, args.requests, Path(log_dir))
    finally:
        flushed.flushdb()
        flushed.close()
    print(f"timed:    {args.requests} requests per page after 3 warm-ups, one signed-in client")
    report(timings)
    print(f"target:   median < {TARGET_MEDIAN_MS:.0f} ms per page")
    return 0 if all(timing.passed for timing in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
