"""Health, readiness, metrics, configuration refusals, docker-compose shape."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from tests.support.http import app_client
from tortoise import Tortoise

from puente.app import create_app
from puente.cli import main as cli_main
from puente.config import ConfigError, Settings, load_settings, parse_encryption_keys

ROOT = Path(__file__).resolve().parents[1]


METRICS_TOKEN = "metrics-scraper-token-0123456789abcdef"


def _client_from(app, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.anyio
async def test_health_ready_and_metrics_for_an_authorised_scraper(db, runtime):
    runtime.settings = runtime.settings.with_overrides(metrics_token=METRICS_TOKEN)
    async with app_client(runtime) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).status_code == 200
        metrics = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")


@pytest.mark.anyio
async def test_metrics_are_not_public(db, runtime):
    runtime.settings = runtime.settings.with_overrides(metrics_token=METRICS_TOKEN)
    app = create_app(runtime, manage_database=False)
    async with _client_from(app, "203.0.113.9") as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        basic = await client.get("/metrics", headers={"authorization": f"Basic {METRICS_TOKEN}"})
    assert (anonymous.status_code, wrong.status_code, basic.status_code) == (401, 401, 401)
    assert "puente_" not in anonymous.text


@pytest.mark.anyio
async def test_without_a_token_metrics_are_closed_in_serve_and_loopback_only_in_demo(db, runtime):
    serve = create_app(runtime, manage_database=False)
    async with _client_from(serve, "127.0.0.1") as client:
        closed = await client.get("/metrics")
    assert closed.status_code == 403 and "PUENTE_METRICS_TOKEN" in closed.text
    runtime.settings = runtime.settings.with_overrides(sandbox=True)
    demo = create_app(runtime, manage_database=False)
    async with _client_from(demo, "127.0.0.1") as local, _client_from(demo, "10.0.0.7") as other:
        assert (await local.get("/metrics")).status_code == 200
        assert (await other.get("/metrics")).status_code == 403


@pytest.mark.anyio
async def test_readyz_is_503_when_the_database_is_gone(db, runtime):
    async with app_client(runtime) as client:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()
        response = await client.get("/readyz")
        health = await client.get("/healthz")
    assert response.status_code == 503
    assert health.status_code == 200


def test_serve_refuses_to_start_without_secrets(monkeypatch, capsys):
    for name in ("PUENTE_SECRET_KEY", "PUENTE_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    assert cli_main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "PUENTE_SECRET_KEY" in err and "PUENTE_ENCRYPTION_KEYS" in err


@pytest.mark.parametrize(
    "keys", ["k1", "k1:short", "k1:" + "A" * 43 + ",k1:" + "B" * 43, "bad id:" + "A" * 43]
)
def test_malformed_encryption_keys_are_refused(keys):
    with pytest.raises(ConfigError):
        parse_encryption_keys(keys)


def test_settings_come_from_the_contract_environment_names():
    settings = load_settings(
        {
            "PUENTE_DATABASE_URL": "postgres://u@h:5432/d",
            "PUENTE_REDIS_URL": "redis://127.0.0.1:6379/0",
            "PUENTE_STRIPE_SECRET_KEY": "sk_test_x",
            "PUENTE_OPENPAY_WEBHOOK_USER": "hook",
        }
    )
    assert settings.database_url == "postgres://u@h:5432/d"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.provider_env["stripe"]["secret_key"] == "sk_test_x"
    assert settings.provider_env["openpay"]["webhook_user"] == "hook"
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Settings(secret_key="short", encryption_keys=((("k", b"x" * 32)),)).require_secrets()


def test_docker_compose_runs_app_postgres_and_redis_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"app", "postgres", "redis"} <= set(services)
    for name in ("app", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    env = services["app"]["environment"]
    for name in (
        "PUENTE_DATABASE_URL",
        "PUENTE_REDIS_URL",
        "PUENTE_SECRET_KEY",
        "PUENTE_ENCRYPTION_KEYS",
    ):
        assert name in env
    command = " ".join(services["app"]["command"])
    assert "puente migrate" in command and "puente serve" in command
    assert services["app"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert compose["volumes"]
