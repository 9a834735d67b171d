# Every routine task. `./just <recipe>` sets up .venv first; `just` alone works inside it.

set dotenv-load := false

venv := ".venv/bin"

# The whole product on embedded defaults: SQLite, in-process worker, HubSpot sandbox.
run:
    {{venv}}/python -m web

# The whole test suite (PostgreSQL and Redis on 127.0.0.1; Chromium, installed first if missing).
test *args: browser
    {{venv}}/python -m pytest {{args}}

# Install Debian's Chromium for tests/browser when missing (as root, with apt-get; never a download).
browser:
    #!/bin/sh
    set -eu
    if [ -x /usr/bin/chromium ]; then
        echo "browser: /usr/bin/chromium is installed"
    elif ! command -v apt-get >/dev/null 2>&1; then
        echo "browser: /usr/bin/chromium is missing and there is no apt-get; browser tests will skip (fail in CI)"
    elif [ "$(id -u)" -ne 0 ]; then
        echo "browser: /usr/bin/chromium is missing; not root, so not installing it (run: sudo apt-get install chromium)"
    else
        echo "browser: installing Debian's chromium: apt-get update && apt-get install -y chromium"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
    fi

# The web process alone (production: set REDIS_URL, DATABASE_URL, HUBSPOT_API_KEY, SECRET_KEY).
web:
    {{venv}}/uvicorn web.main:app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
        --forwarded-allow-ips "${TRUSTED_PROXIES:-}"

# Dramatiq worker processes consuming the Redis queue. Each syncs leads on its -t threads and
# analyses uploads on ANALYSIS_WORKER_THREADS threads of its own; `--queues uploads` (or
# `--queues crm admin`) makes a process do only that work. Dramatiq's own Prometheus exporter
# listens on dramatiq_prom_host:dramatiq_prom_port, loopback unless told otherwise.
worker *args:
    dramatiq_prom_host="${dramatiq_prom_host:-127.0.0.1}" {{venv}}/dramatiq actors.worker {{args}}

# Bring the database schema up to date.
migrate:
    {{venv}}/piccolo migrations forwards all

# Make an admin account for the dashboard at /admin (asks for the password twice).
create-admin username email *args:
    {{venv}}/python -m storage.create_admin {{username}} {{email}} {{args}}

# Create the custom properties the mapping needs in the configured portal (or sandbox).
hubspot-setup:
    {{venv}}/python -m actors.portal_setup

# The HubSpot sandbox on its own port (point HUBSPOT_API_URL at it).
sandbox port="8001":
    {{venv}}/python -m crm.sandbox --host 127.0.0.1 --port {{port}}

# 10,000 submissions through separate processes while HubSpot fails, Redis restarts empty
# and a worker is killed mid-batch, at HubSpot's real 10 s window and the spec's breaker;
# prints the figures. Needs PostgreSQL on 127.0.0.1 (a scratch database, dropped after).
chaos submissions="10000" window="10":
    {{venv}}/python -m tests.integration.chaos --submissions {{submissions}} --window {{window}}

# Lint and format check.
lint:
    {{venv}}/ruff check .
    {{venv}}/ruff format --check .

# Peak memory and MB/s of the upload analysis on a generated 200 MB CSV (target < 150 MB).
bench-analysis mb="200":
    {{venv}}/python -m bench.analysis_memory --mb {{mb}}

# Peak memory and seconds of the analysis on each hostile file at full size (target < 150 MB).
bench-hostile scale="1":
    {{venv}}/python -m bench.hostile --scale {{scale}}

# Leads per minute, calls per lead, busiest 10 s window, 429s and single-lead latency while
# workers drain 10,000 waiting submissions at 100 calls/10 s; then at 2 % and 15 % 5xx.
# Needs PostgreSQL on 127.0.0.1 (scratch databases, dropped after).
bench-drain submissions="10000":
    {{venv}}/python -m bench.drain --submissions {{submissions}}

# Needs PostgreSQL and Redis on 127.0.0.1; loads a scratch database, dropped afterwards.
# Median and p95 of each admin page on 100,000 submissions and 1,000,000 audit rows (target < 200 ms).
bench-admin submissions="100000" calls="1000000":
    {{venv}}/python -m bench.admin_pages --submissions {{submissions}} --calls {{calls}}
