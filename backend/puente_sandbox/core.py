"""What every provider simulator shares: state, ids, admin routes, faults and webhooks.

A simulator subclasses ``Simulator``, supplies its provider routes, its error body, its
webhook signature and its pending SPEI/cash references; ``build_app`` wraps them with
fault injection, webhook delivery and the admin endpoints every simulator offers:

    GET|POST|DELETE /_faults                 read, change (JSON) or reset fault injection
    GET  /_references                        pending SPEI/OXXO references (JSON)
    POST /_references/{id}/pay               simulate the payer paying (form or JSON)
    POST /_references/{id}/expire            simulate the reference lapsing unpaid
    GET  /_webhooks                          delivery log
"""

from __future__ import annotations

import hashlib
import json
import random as _random
import string
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.money import ZERO, parse_amount
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.faults import FaultInjector, Faults
from puente_sandbox.webhooks import FlushWebhooks, WebhookSender

__all__ = [
    "ExactReferenceSimulator",
    "IdGenerator",
    "IncomingTransfers",
    "IdempotencyCache",
    "IdempotencyConflict",
    "PendingReference",
    "SandboxError",
    "SandboxFactory",
    "SandboxStore",
    "SavedResponse",
    "Simulator",
    "SimulatorState",
    "public_url",
    "sandbox_factory",
]

_ALPHABET = string.ascii_letters + string.digits


class SandboxError(Exception):
    """An admin action that cannot be done (unknown reference, already paid)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class IdGenerator:
    """Provider-looking ids (``pi_3Nk...``), reproducible with a seed."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = _random.Random(seed)

    def __call__(self, prefix: str, length: int = 24) -> str:
        return prefix + "".join(self._random.choice(_ALPHABET) for _ in range(length))

    def digits(self, count: int) -> str:
        """A string of random digits (references, CLABE bodies)."""
        return "".join(self._random.choice(string.digits) for _ in range(count))


class SandboxStore:
    """In-memory collections of provider objects by kind, in creation order."""

    def __init__(self) -> None:
        self._collections: dict[str, dict[str, dict[str, Any]]] = {}

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace ``obj`` (keyed by its ``id``)."""
        self._collections.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """The object, or None."""
        return self._collections.get(kind, {}).get(object_id)

    def remove(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """Delete the object (a provider's DELETE); the removed object, or None."""
        return self._collections.get(kind, {}).pop(object_id, None)

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind, oldest first."""
        return list(self._collections.get(kind, {}).values())

    def count(self, kind: str) -> int:
        """How many objects of a kind exist."""
        return len(self._collections.get(kind, {}))

    def kinds(self) -> Iterator[str]:
        """The kinds stored so far."""
        return iter(self._collections)


class IncomingTransfers:
    """SPEI transfers a payer was told to send and has not sent in full (the bank's deposits,
    STP's abonos): each object keeps what is still due under ``due``. A payer may send part
    of it; a transfer that lapses is due no more."""

    def __init__(self, store: SandboxStore, kind: str, what: str, *, due: str = "_due") -> None:
        self.store, self.kind, self.what, self.due = store, kind, what, due

    def pending(self) -> list[dict[str, Any]]:
        """The transfers with something still due, oldest first."""
        return [found for found in self.store.all(self.kind) if found[self.due] > 0]

    def _open(self, object_id: str) -> dict[str, Any]:
        found = self.store.get(self.kind, object_id)
        if found is None or found[self.due] <= 0:
            raise SandboxError(f"no pending {self.what} {object_id}", 404)
        return found

    def pay(self, object_id: str, amount: Decimal | None = None) -> tuple[dict[str, Any], Decimal]:
        """The payer sends ``amount`` (all that is due when None): the transfer and the amount."""
        found = self._open(object_id)
        paid = found[self.due] if amount is None else amount
        if paid <= 0:
            raise SandboxError("amount must be positive")
        found[self.due] = max(ZERO, found[self.due] - paid)
        return found, paid

    def lapse(self, object_id: str) -> None:
        """The payer never sends it."""
        self._open(object_id)[self.due] = ZERO


class SimulatorState:
    """What every provider's state starts from: its simulator's store, ids, clock and webhooks.

    ``emit`` queues a webhook body for delivery (the simulator's ``webhooks.enqueue``).
    """

    def __init__(self, simulator: Simulator) -> None:
        self.store = simulator.store
        self.ids = simulator.ids
        self.clock = simulator.clock
        self.emit = simulator.webhooks.enqueue


@dataclass(frozen=True, slots=True)
class SavedResponse:
    """What a provider answered the first time a key was used."""

    path: str
    fingerprint: str
    status: int
    body: Any


class IdempotencyConflict(Exception):
    """A key reused for another endpoint (``reason="endpoint"``) or other parameters."""

    def __init__(self, reason: str, saved_path: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.saved_path = saved_path


class IdempotencyCache:
    """Idempotency-key semantics shared by simulators: same key and params, same answer."""

    def __init__(self) -> None:
        self._saved: dict[str, SavedResponse] = {}

    @staticmethod
    def fingerprint(params: Any) -> str:
        """A stable digest of decoded request parameters."""
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()

    def lookup(self, key: str, path: str, fingerprint: str) -> SavedResponse | None:
        """The saved answer to replay, None if the key is new; conflicts raise."""
        saved = self._saved.get(key)
        if saved is None:
            return None
        if saved.path != path:
            raise IdempotencyConflict("endpoint", saved.path)
        if saved.fingerprint != fingerprint:
            raise IdempotencyConflict("parameters", saved.path)
        return saved

    def save(self, key: str, path: str, fingerprint: str, status: int, body: Any) -> None:
        """Remember the answer given under ``key``."""
        self._saved[key] = SavedResponse(path, fingerprint, status, body)

    def attempt(
        self,
        key: str,
        path: str,
        params: Any,
        refuse: Callable[[IdempotencyConflict], Exception],
    ) -> KeyedAttempt:
        """One request under ``key``: its saved answer to replay, or one to keep later.
        A key reused for another request raises the provider's own ``refuse(conflict)``."""
        fingerprint = self.fingerprint(params)
        try:
            saved = self.lookup(key, path, fingerprint)
        except IdempotencyConflict as conflict:
            raise refuse(conflict) from None
        return KeyedAttempt(self, key, path, fingerprint, saved)

    def __len__(self) -> int:
        return len(self._saved)


@dataclass(frozen=True, slots=True)
class KeyedAttempt:
    """A request made under an idempotency key (``IdempotencyCache.attempt``)."""

    cache: IdempotencyCache
    key: str
    path: str
    fingerprint: str
    saved: SavedResponse | None  # what to answer again; None: run the request

    def keep(self, status: int, body: Any) -> None:
        """Remember this answer for the key (each provider says which answers it keeps)."""
        self.cache.save(self.key, self.path, self.fingerprint, status, body)


@dataclass(frozen=True, slots=True)
class PendingReference:
    """A SPEI or cash reference waiting for the (simulated) payer."""

    provider: str
    id: str  # the provider object to pay (e.g. pi_...)
    method: str  # "spei" or "cash"
    amount: Decimal  # still to pay, pesos
    reference: str | None = None
    clabe: str | None = None
    expires_at: datetime | None = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        data = asdict(self)
        data["amount"] = str(self.amount)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return data


def public_url(request: Request) -> str:
    """This simulator's own base URL as the client reached it (mount prefix included)."""
    url = request.url
    root = request.scope.get("root_path", "")
    return f"{url.scheme}://{url.netloc}{root}".rstrip("/")


def _said(exc: Exception) -> str:
    """What a provider's error says to people (its message or description, else its text)."""
    for attribute in ("message", "description"):
        text = getattr(exc, attribute, None)
        if isinstance(text, str) and text:
            return text
    return str(exc)


def _refusal(exc: Exception) -> Response:
    status = exc.status if isinstance(exc, SandboxError) else 400
    return JSONResponse({"error": str(exc)}, status_code=status)


class Simulator:
    """Base for provider simulators; see the module docstring for what it adds."""

    name: str = ""
    # The provider's sandbox credentials; those a simulator is given override them. Unless a
    # simulator builds its own (a key pair), they are its entry in data/credentials.toml.
    default_credentials: ClassVar[Mapping[str, str] | None] = None

    def __init__(
        self,
        credentials: Mapping[str, str],
        webhook_url: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        seed: int | None = None,
        webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 25.0),
    ) -> None:
        given = {name: value for name, value in credentials.items() if value}  # blanks: default
        defaults = self.default_credentials
        if defaults is None:
            defaults = sandbox_credentials(self.name)
        self.credentials: dict[str, str] = {**defaults, **given}
        self.clock = clock or time.time
        self.store = SandboxStore()
        self.ids = IdGenerator(seed)
        self.faults = Faults()
        self.idempotency = IdempotencyCache()
        self._sleep = sleep
        self.webhooks = WebhookSender(
            webhook_url,
            self.sign_webhook,
            faults=self.faults,
            transport=transport,
            clock=self.clock,
            sleep=sleep,
            retry_delays=webhook_retry_delays,
            user_agent=self.webhook_user_agent,
        )

    webhook_user_agent = "puente-sandbox"
    # The provider's API error and how it answers one; admin routes made by ``admin_endpoint``
    # answer with them, so a helper fails the way the provider's own API would.
    api_error: type[Exception] = SandboxError

    # -- what a provider supplies -------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """The provider's own API and hosted-page routes."""
        raise NotImplementedError

    def error_body(self, status: int) -> dict[str, Any]:
        """The provider's error body for an injected ``status``."""
        raise NotImplementedError

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        """Signature headers exactly as the provider sends them. A service that sends no
        webhooks (the PAC, Banxico's CEP) keeps this one: nothing to sign."""
        return {}

    def pending_references(self) -> list[PendingReference]:
        """References a payer could pay now."""
        return []

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        """Simulate the payer paying ``amount`` (all that is due when None)."""
        raise SandboxError(f"{self.name} has no payable references", 404)

    def expire_reference(self, object_id: str) -> None:
        """Simulate the reference lapsing unpaid."""
        raise SandboxError(f"{self.name} has no expirable references", 404)

    def settle(self) -> dict[str, Any]:
        """Pay out the balance to the institution's bank, as the provider's daily run would."""
        raise SandboxError(f"{self.name} has no settlements", 404)

    def error_response(self, exc: Exception) -> Response:
        """The provider's answer to an ``api_error`` (by default an admin refusal)."""
        return _refusal(exc)

    def json_response(self, body: Any, status: int = 200) -> Response:
        """A JSON answer encoded as the provider encodes (decimals, key order)."""
        return JSONResponse(body, status)

    # -- shared machinery ---------------------------------------------------------------------
    def first_secret(self, name: str) -> str:
        """The first of a comma-separated credential: while Puente rotates a secret it
        accepts old and new, and the provider signs with one."""
        return self.credentials[name].split(",")[0].strip()

    @contextmanager
    def refusing(self, status: int | None = None) -> Iterator[None]:
        """The provider's own refusal (``api_error``) as a ``SandboxError`` for the admin
        helpers (pay, expire, settle): with ``status``, or the provider's HTTP status."""
        try:
            yield
        except SandboxError:
            raise
        except self.api_error as exc:
            answered: int = status or getattr(exc, "status", None) or getattr(exc, "http_code", 409)
            raise SandboxError(_said(exc), answered) from None

    def admin_endpoint(
        self, action: Callable[[Request], Any]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A simulator-only route: ``action(request)`` as JSON, or the provider's error."""

        async def endpoint(request: Request) -> Response:
            try:
                result = action(request)
            except self.api_error as exc:
                return self.error_response(exc)
            return self.json_response(result)  # FlushWebhooks delivers what it queued

        return endpoint

    def build_app(self) -> Starlette:
        """The simulator as an ASGI app (state on ``app.state.simulator``)."""
        app = Starlette(routes=[*self._admin_routes(), *self.routes()])
        app.state.simulator = self
        app.add_middleware(
            FaultInjector, faults=self.faults, error_body=self.error_body, sleep=self._sleep
        )
        app.add_middleware(FlushWebhooks, sender=self.webhooks)
        return app

    def _admin_routes(self) -> list[BaseRoute]:
        return [
            Route("/_faults", self._faults_endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/_references", self._references_endpoint, methods=["GET"]),
            Route("/_references/{object_id}/pay", self._pay_endpoint, methods=["POST"]),
            Route("/_references/{object_id}/expire", self._expire_endpoint, methods=["POST"]),
            Route("/_webhooks", self._webhooks_endpoint, methods=["GET"]),
        ]

    async def _faults_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.reset()
        elif request.method == "POST":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of fault settings")
                self.faults.update(changes)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.faults.as_dict())

    async def _references_endpoint(self, request: Request) -> Response:
        return JSONResponse({"data": [r.as_dict() for r in self.pending_references()]})

    async def _admin_action(
        self, request: Request, action: Callable[..., None], *, takes_amount: bool = False
    ) -> Response:
        form: dict[str, Any] = {}
        is_form = request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        if is_form:
            form = dict(await request.form())
        elif await request.body():
            try:
                form = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON or a form"}, status_code=400)
        try:
            if takes_amount and form.get("amount"):
                action(request.path_params["object_id"], parse_amount(str(form["amount"])))
            else:
                action(request.path_params["object_id"])
        except SandboxError as exc:
            return _refusal(exc)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        next_url = str(form.get("next") or "")
        if is_form and next_url.startswith("/") and not next_url.startswith("//"):
            return RedirectResponse(next_url, status_code=303)
        return JSONResponse({"ok": True, "id": request.path_params["object_id"]})

    async def _pay_endpoint(self, request: Request) -> Response:
        return await self._admin_action(request, self.pay_reference, takes_amount=True)

    async def _expire_endpoint(self, request: Request) -> Response:
        return await self._admin_action(request, self.expire_reference)

    async def _webhooks_endpoint(self, request: Request) -> Response:
        return JSONResponse(
            {
                "url": self.webhooks.url,
                "pending": len(self.webhooks.pending),
                "deliveries": [asdict(d) for d in self.webhooks.deliveries[-200:]],
            }
        )


SandboxFactory = Callable[..., Starlette]


class ExactReferenceSimulator(Simulator):
    """A simulator whose references (a store voucher, a CLABE for one payment) are paid in
    one go of exactly the amount due (Conekta's orders, Openpay's charges). It names the
    store's collection of the objects a reference pays (``references``, a plural) and what
    such an object asks for (``amount_due``); its state's ``expire_due``, ``pay`` and
    ``expire`` move them through the lifecycle."""

    references: ClassVar[str] = ""
    state: Any

    def reference_objects(self) -> list[dict[str, Any]]:
        """Every object a reference may pay, once those past their time have lapsed."""
        self.state.expire_due()
        return self.store.all(self.references)

    def reference_object(self, object_id: str) -> dict[str, Any]:
        """The object ``object_id`` names, lapsed if its time is past (404 if none)."""
        self.state.expire_due()
        found = self.store.get(self.references, object_id)
        if found is None:
            what = f"{self.name.capitalize()} {self.references.removesuffix('s')}"
            raise SandboxError(f"no {what} {object_id}", 404)
        return found

    def amount_due(self, found: dict[str, Any]) -> Decimal:
        """What ``found`` asks the payer for, in pesos."""
        raise NotImplementedError

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        found = self.reference_object(object_id)
        if amount is not None and amount != self.amount_due(found):
            label = self.name.capitalize()
            raise SandboxError(f"{label} references take the exact amount due", 400)
        with self.refusing(409):
            self.state.pay(found)

    def expire_reference(self, object_id: str) -> None:
        with self.refusing(409):
            self.state.expire(self.reference_object(object_id))


def sandbox_factory(simulator: Callable[..., Simulator]) -> SandboxFactory:
    """The ``create_<provider>_sandbox`` function a connector's ``sandbox_factory`` names.

    The function takes ``(credentials, webhook_url, transport=None, clock=None, **options)``;
    ``options`` are the simulator's keyword arguments (``sleep``, ``seed``,
    ``webhook_retry_delays`` for every one, plus its own). ``app.state.simulator`` is the
    simulator.
    """

    def create(
        credentials: Mapping[str, str],
        webhook_url: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        **options: Any,
    ) -> Starlette:
        sim = simulator(credentials, webhook_url, transport=transport, clock=clock, **options)
        return sim.build_app()

    name = getattr(simulator, "__name__", "simulator")
    create.__doc__ = f"The {name} app; ``app.state.simulator`` is its ``{name}``."
    return create
