# Every routine task. `./just <recipe>` sets up .venv first; `just` alone works inside it.

set dotenv-load := false

venv := ".venv/bin"

# The whole product on embedded defaults: SQLite, in-process worker, HubSpot sandbox.
run:
    {{venv}}/python -m web

# The whole test suite (PostgreSQL and Redis on 127.0.0.1 for the integration tests).
test *args:
    {{venv}}/python -m pytest {{args}}

# The web process alone (production: set REDIS_URL, DATABASE_URL, HUBSPOT_API_KEY, SECRET_KEY).
web:
    {{venv}}/uvicorn web.main:app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" --proxy-headers

# Dramatiq worker processes consuming the Redis queue.
worker *args:
    {{venv}}/dramatiq actors.worker {{args}}

# Bring the database schema up to date.
migrate:
    {{venv}}/piccolo migrations forwards all

# Create the custom properties the mapping needs in the configured portal (or sandbox).
hubspot-setup:
    {{venv}}/python -m actors.portal_setup

# The HubSpot sandbox on its own port (point HUBSPOT_API_URL at it).
sandbox port="8001":
    {{venv}}/python -m crm.sandbox --host 127.0.0.1 --port {{port}}

# Lint and format check.
lint:
    {{venv}}/ruff check .
    {{venv}}/ruff format --check .
