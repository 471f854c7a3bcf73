"""Settings, read from the environment in exactly one place.

Names follow ``../shared/contract.md``. Code elsewhere receives a :class:`Settings`
value and never reads ``os.environ`` itself, so tests can pass a literal one.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from puente.providers.catalogue import BUILTIN_SPECS
from puente.providers.registry import provider_specs

__all__ = [
    "DEMO_STATE_DIR",
    "PROVIDER_ENV_FIELDS",
    "ConfigError",
    "Settings",
    "development_settings",
    "load_settings",
    "parse_encryption_keys",
]

DEFAULT_DATABASE_URL = "sqlite://var/puente.sqlite3"
# Where `puente demo` keeps its development secrets and database (beside DEFAULT_DATABASE_URL).
DEMO_STATE_DIR = Path("var")
WEBHOOK_WORKERS = ("inline", "process")  # PUENTE_WEBHOOK_WORKER (Settings.webhook_worker)

# Provider credentials the demo institution may take from the environment
# (PUENTE_<PROVIDER>_<FIELD>); env values win over the ones stored in the database.
# Derived from each provider's spec (providers/catalogue.py); plug-ins are added when the
# settings are loaded (``provider_specs``).
PROVIDER_ENV_FIELDS: dict[str, tuple[str, ...]] = {s.name: s.env_fields for s in BUILTIN_SPECS}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Puente."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Puente needs to know about where it runs."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: str = ""
    encryption_keys: tuple[tuple[str, bytes], ...] = ()
    debug: bool = False
    base_url: str = "http://127.0.0.1:8000"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    login_max_failures: int = 5
    login_lockout_seconds: int = 15 * 60
    # Failed logins one client address may make per lockout window, whatever the accounts:
    # generous, because an office or a school's staff may share one address.
    login_ip_max_failures: int = 50
    # How often a subscription or an SSE stream asks whether its session still holds.
    session_recheck_seconds: float = 15.0
    cookie_secure: bool = True
    sandbox: bool = False
    metrics_token: str | None = None  # bearer token scrapers send to GET /metrics
    # Introspection and "Did you mean …" hints tour the schema for an attacker: off under
    # `puente serve` unless PUENTE_GRAPHQL_INTROSPECTION=1; None follows `sandbox` (demo: on).
    graphql_introspection: bool | None = None
    graphql_max_body_bytes: int = 1024 * 1024  # a query is a few KB: refuse absurd bodies

    @property
    def introspection_enabled(self) -> bool:
        """Whether /graphql answers introspection and suggests field names."""
        return self.sandbox if self.graphql_introspection is None else self.graphql_introspection

    provider_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    log_format: str | None = None  # json or console; None: json for serve, console for demo
    log_level: str = "info"
    otlp_endpoint: str | None = None  # OTLP/HTTP traces endpoint; None: no tracing
    # How long a worker holds a webhook it is processing; a worker that dies holding one
    # delays that event by at most this long before another process takes it over.
    webhook_lease_seconds: int = 60
    # ``puente serve``: after SIGTERM, how long requests still open may finish before they
    # are cancelled (live streams end at once: ``shutdown.py``); then the app shuts down.
    shutdown_grace_seconds: int = 5
    # Where `puente serve` applies received webhooks: "inline" (in each server process, as
    # `puente demo` does) or "process" (one `puente worker` process that serve starts, so
    # acknowledging webhooks never waits behind applying them). "process" needs Redis: the
    # worker's changes reach the servers' subscribers through it. Default: "process"
    # where PUENTE_REDIS_URL is set, else "inline".
    webhook_worker: str = "inline"
    # Notifications (notifications/): email over SMTP, SMS and WhatsApp through Twilio.
    # Without a host (or an account) that channel is off: its notices are stored, not sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Puente <avisos@puente.mx>"
    smtp_starttls: bool = True
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None  # E.164 sender; WhatsApp goes from whatsapp:<it>
    twilio_api_url: str = "https://api.twilio.com"
    # How long a password-reset link stays valid.
    password_reset_ttl_seconds: int = 60 * 60
    # CFDI stamping (SW sapien's REST API shape, invoicing/pac.py) and Banxico's CEP service.
    # None: the real hosts, or the built-in simulators under /sandbox in `puente demo`.
    pac_base_url: str | None = None
    pac_token: str = ""
    cep_base_url: str | None = None

    def require_secrets(self) -> None:
        """Refuse to run a production server without real secrets."""
        missing = []
        if not self.secret_key:
            missing.append("PUENTE_SECRET_KEY")
        if not self.encryption_keys:
            missing.append("PUENTE_ENCRYPTION_KEYS")
        if missing:
            raise ConfigError(
                "missing required setting(s): "
                + ", ".join(missing)
                + ". Set them in the environment (see docs/operations.md); "
                "`puente demo` generates development values instead."
            )
        if len(self.secret_key.encode()) < 32:
            raise ConfigError("PUENTE_SECRET_KEY must be at least 32 bytes long")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_encryption_keys(text: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``id:base64key[,id:base64key…]``; the first key encrypts, all of them decrypt."""
    keys: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id or not key_id.isalnum():
            raise ConfigError(
                "PUENTE_ENCRYPTION_KEYS must look like 'k1:<base64 32 bytes>[,k0:<…>]'"
            )
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, TypeError):
            raise ConfigError(f"encryption key {key_id!r} is not valid base64") from None
        if len(raw) != 32:
            raise ConfigError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        if key_id in seen:
            raise ConfigError(f"encryption key id {key_id!r} appears twice")
        seen.add(key_id)
        keys.append((key_id, raw))
    return tuple(keys)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _webhook_worker(env: Mapping[str, str]) -> str:
    redis = bool(env.get("PUENTE_REDIS_URL"))
    where = _choice(env, "PUENTE_WEBHOOK_WORKER", WEBHOOK_WORKERS, "process" if redis else "inline")
    if where == "process" and not redis:
        raise ConfigError(
            "PUENTE_WEBHOOK_WORKER=process needs PUENTE_REDIS_URL: payments the worker applies "
            "reach the servers' subscribers through Redis. Set it, or use inline."
        )
    return where


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (``os.environ`` unless given)."""
    env = os.environ if env is None else env
    keys_text = env.get("PUENTE_ENCRYPTION_KEYS", "")
    provider_env: dict[str, dict[str, str]] = {}
    for spec in provider_specs():
        provider = spec.name
        for name in spec.env_fields:
            value = env.get(f"PUENTE_{provider.upper()}_{name.upper()}")
            if value:
                provider_env.setdefault(provider, {})[name] = value
    return Settings(
        database_url=env.get("PUENTE_DATABASE_URL") or DEFAULT_DATABASE_URL,
        redis_url=env.get("PUENTE_REDIS_URL") or None,
        secret_key=env.get("PUENTE_SECRET_KEY", ""),
        encryption_keys=parse_encryption_keys(keys_text) if keys_text else (),
        debug=_flag(env.get("PUENTE_DEBUG"), False),
        base_url=(env.get("PUENTE_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        access_token_ttl_seconds=_int(env, "PUENTE_ACCESS_TOKEN_TTL", 15 * 60),
        refresh_token_ttl_seconds=_int(env, "PUENTE_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
        login_max_failures=_int(env, "PUENTE_LOGIN_MAX_FAILURES", 5),
        login_lockout_seconds=_int(env, "PUENTE_LOGIN_LOCKOUT_SECONDS", 15 * 60),
        login_ip_max_failures=_int(env, "PUENTE_LOGIN_IP_MAX_FAILURES", 50),
        session_recheck_seconds=_int(env, "PUENTE_SESSION_RECHECK_SECONDS", 15),
        cookie_secure=_flag(env.get("PUENTE_COOKIE_SECURE"), True),
        metrics_token=env.get("PUENTE_METRICS_TOKEN") or None,
        graphql_introspection=(
            _flag(env["PUENTE_GRAPHQL_INTROSPECTION"], False)
            if env.get("PUENTE_GRAPHQL_INTROSPECTION")
            else None
        ),
        graphql_max_body_bytes=_int(env, "PUENTE_GRAPHQL_MAX_BODY_BYTES", 1024 * 1024),
        provider_env=provider_env,
        log_format=(
            _choice(env, "PUENTE_LOG_FORMAT", ("json", "console"), "json")
            if env.get("PUENTE_LOG_FORMAT")
            else None
        ),
        log_level=_choice(env, "PUENTE_LOG_LEVEL", ("debug", "info", "warning", "error"), "info"),
        otlp_endpoint=env.get("PUENTE_OTLP_ENDPOINT") or None,
        webhook_lease_seconds=max(_int(env, "PUENTE_WEBHOOK_LEASE_SECONDS", 60), 1),
        shutdown_grace_seconds=max(_int(env, "PUENTE_SHUTDOWN_GRACE_SECONDS", 5), 1),
        webhook_worker=_webhook_worker(env),
        smtp_host=env.get("PUENTE_SMTP_HOST") or None,
        smtp_port=_int(env, "PUENTE_SMTP_PORT", 587),
        smtp_user=env.get("PUENTE_SMTP_USER") or None,
        smtp_password=env.get("PUENTE_SMTP_PASSWORD") or None,
        smtp_from=env.get("PUENTE_SMTP_FROM") or "Puente <avisos@puente.mx>",
        smtp_starttls=_flag(env.get("PUENTE_SMTP_STARTTLS"), True),
        twilio_account_sid=env.get("PUENTE_TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("PUENTE_TWILIO_AUTH_TOKEN") or None,
        twilio_from=env.get("PUENTE_TWILIO_FROM") or None,
        twilio_api_url=(env.get("PUENTE_TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
        password_reset_ttl_seconds=_int(env, "PUENTE_PASSWORD_RESET_TTL", 60 * 60),
        pac_base_url=(env.get("PUENTE_PAC_BASE_URL") or "").rstrip("/") or None,
        pac_token=env.get("PUENTE_PAC_TOKEN", ""),
        cep_base_url=(env.get("PUENTE_CEP_BASE_URL") or "").rstrip("/") or None,
    )


def development_settings(base: Settings, state_dir: Path) -> Settings:
    """Fill missing secrets with development values kept under ``state_dir`` (for `puente demo`).

    The values persist in ``state_dir/dev-secrets`` so encrypted demo data stays readable
    across restarts.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "dev-secrets"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if value:
                stored[name] = value
    if "secret_key" not in stored:
        stored["secret_key"] = secrets.token_urlsafe(48)
    if "encryption_keys" not in stored:
        raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        stored["encryption_keys"] = f"dev1:{raw}"
    # Created owner-only: writing first and chmod-ing after leaves the secrets readable
    # by anyone on the machine for a moment (umask 022).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{k}={v}\n" for k, v in sorted(stored.items())))
    path.chmod(0o600)  # a file left by an older version keeps its mode otherwise
    return replace(
        base,
        secret_key=base.secret_key or stored["secret_key"],
        encryption_keys=base.encryption_keys or parse_encryption_keys(stored["encryption_keys"]),
        cookie_secure=False,
        sandbox=True,
    )
