"""Settings come from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

import pytest

from settings import ConfigError, load_settings


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUBSPOT_API_URL", "DATABASE_URL", "HUBSPOT_RETRY_DELAY", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)

    settings = load_settings()

    assert settings.hubspot_api_url == "https://api.hubapi.com"
    assert settings.hubspot_timeout == 10
    assert settings.hubspot_max_retries == 3
    assert settings.hubspot_retry_delay == 1000
    assert settings.hubspot_cb_threshold == 5
    assert settings.hubspot_cb_timeout == 120
    assert settings.hubspot_owner_id is None
    assert settings.database_url.startswith("sqlite:///")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.embedded and settings.uses_sandbox


@pytest.mark.parametrize("name", ["HUBSPOT_API_KEY", "HUBSPOT_ACCESS_TOKEN"])
def test_either_token_variable_switches_to_real_hubspot(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "pat-na1-secret")

    settings = load_settings()

    assert not settings.uses_sandbox
    assert settings.hubspot_token == "pat-na1-secret"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HUBSPOT_TIMEOUT", "ten", "HUBSPOT_TIMEOUT: Input should be a valid number"),
        ("DATABASE_URL", "mysql://user:hunter2@db/leads", "DATABASE_URL: must start with"),
        ("HUBSPOT_API_URL", "ftp://example.com", "HUBSPOT_API_URL: must be an http"),
        ("REDIS_URL", "memcached://x", "REDIS_URL: must start with redis://"),
        ("PORT", "99999", "PORT:"),
        ("ANALYSIS_TIME_LIMIT_S", "600", "ANALYSIS_TIME_LIMIT_S: Input should be less than 600"),
    ],
)
def test_bad_values_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message and "hunter2" not in message


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        load_settings()


def test_a_bad_trusted_proxy_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES: 'proxy.internal' is not an IP"):
        load_settings()


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_analysis_worker_threads_must_be_a_small_positive_count(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ANALYSIS_WORKER_THREADS", value)

    with pytest.raises(ConfigError, match="^ANALYSIS_WORKER_THREADS: "):
        load_settings()


def test_without_public_url_links_go_to_host_and_port_and_any_host_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOST", "::1")
    monkeypatch.setenv("PORT", "9000")

    settings = load_settings()

    assert settings.site_url == "http://[::1]:9000"
    assert settings.trusted_hosts == ["*"]
    assert settings.frame_ancestors == "'none'"


def test_public_url_names_the_hosts_served_unless_they_are_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://Leads.example.com/")
    followed = load_settings()
    monkeypatch.setenv("ALLOWED_HOSTS", "leads.example.com, *.example.org")
    listed = load_settings()

    assert followed.site_url == "https://Leads.example.com"
    assert followed.trusted_hosts == ["leads.example.com", "localhost", "127.0.0.1", "::1"]
    assert listed.trusted_hosts == ["leads.example.com", "*.example.org"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PUBLIC_URL", "leads.example.com", "PUBLIC_URL: must be the site's origin"),
        ("PUBLIC_URL", "https://leads.example.com/forms", "PUBLIC_URL: must be the site's origin"),
        ("PUBLIC_URL", "https://leads.example.com/?a=1", "PUBLIC_URL: must be the site's origin"),
        ("PUBLIC_URL", "https://u:hunter2@example.com", "PUBLIC_URL: must be the site's origin"),
        ("ALLOWED_HOSTS", "https://leads.example.com", "ALLOWED_HOSTS: 'https://leads"),
        ("ALLOWED_HOSTS", "leads.example.com:443", "ALLOWED_HOSTS: 'leads.example.com:443'"),
        ("ALLOWED_HOSTS", "a.*.example.com", "ALLOWED_HOSTS: 'a.*.example.com'"),
        ("ALLOWED_HOSTS", " , ", "ALLOWED_HOSTS: name at least one host"),
        ("FRAME_ANCESTORS", "'none' https://a.example", "FRAME_ANCESTORS: \"'none'\""),
        ("FRAME_ANCESTORS", "https://a.example; script-src *", "FRAME_ANCESTORS: 'https://a"),
        ("FRAME_ANCESTORS", "*", "FRAME_ANCESTORS: '*' is not allowed"),
        ("FRAME_ANCESTORS", " ", "FRAME_ANCESTORS: give 'none'"),
    ],
)
def test_a_bad_public_address_or_framing_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value).startswith(expected)
    assert "hunter2" not in str(caught.value)


def test_framing_by_named_sites_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FRAME_ANCESTORS", "'self' https://www.example.com https://*.example.org:8443"
    )

    assert load_settings().frame_ancestors.split()[1] == "https://www.example.com"
