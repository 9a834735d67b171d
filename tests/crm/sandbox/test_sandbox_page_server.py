"""What people see (the HTML page and JSON state) and how the sandbox is served."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from crm.sandbox import SandboxServer, create_sandbox_app

REPO = Path(__file__).resolve().parents[3]


def test_html_page_lists_a_created_contact_escaped(sdk, http):
    made = sdk.crm.contacts.basic_api.create(
        {"properties": {"email": "page@example.com", "firstname": "<b>Zoë</b>"}}
    )
    response = http.get("/", headers={"Authorization": ""})  # the page needs no token
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "page@example.com" in response.text
    assert made.id in response.text
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in response.text and "<b>Zoë" not in response.text
    assert "<script" not in response.text


def test_state_json_shows_deals_with_their_contacts(sdk, http):
    contact = sdk.crm.contacts.basic_api.create({"properties": {"email": "js@example.com"}})
    deal = sdk.crm.deals.basic_api.create({"properties": {"dealname": "J"}})
    sdk.crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", contact.id)
    state = http.get("/_sandbox/state", headers={"Authorization": ""}).json()
    assert state["counts"] == {"contacts": 1, "deals": 1, "notes": 0}
    assert state["deals"][0]["associations"]["contacts"] == [contact.id]


def test_server_context_manager_serves_on_an_ephemeral_port():
    app = create_sandbox_app(access_token="t0ken")
    with SandboxServer(app=app) as server:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        response = httpx2.get(
            f"{server.url}/crm/v3/owners/", headers={"Authorization": "Bearer t0ken"}
        )
        assert response.status_code == 200
        assert server.state is app.state.sandbox
    try:
        httpx2.get(server.url + "/", timeout=1)
    except httpx2.TransportError:
        pass
    else:
        raise AssertionError("server still answering after stop()")


def test_module_cli_prints_its_url_and_serves():
    env = {**os.environ, "PYTHONPATH": str(REPO), "HUBSPOT_ACCESS_TOKEN": "cli-token"}
    env.pop("HUBSPOT_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "crm.sandbox", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        for _ in range(100):
            try:
                response = httpx2.get(
                    f"{url}/crm/v3/owners/", headers={"Authorization": "Bearer cli-token"}
                )
                break
            except httpx2.TransportError:
                time.sleep(0.02)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
