"""``puente sandbox``: run the simulators alone, or poke a running one (pay, expire, faults).

puente sandbox serve [--port 8100] [--webhook-base-url http://127.0.0.1:8000/webhooks]
puente sandbox references [--url http://127.0.0.1:8000/sandbox]
puente sandbox pay stripe pi_123 [--amount 150.00]
puente sandbox expire stripe pi_123
puente sandbox faults stripe fail_next=2 latency=0.5 duplicate_webhooks=true
puente sandbox faults stripe --reset
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from puente.config import load_settings
from puente_sandbox.registry import simulator_names

__all__ = ["build_parser", "main"]

DEFAULT_URL = "http://127.0.0.1:8000/sandbox"


def build_parser() -> argparse.ArgumentParser:
    """The ``sandbox`` command line."""
    parser = argparse.ArgumentParser(prog="puente sandbox", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run every simulator on its own port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument(
        "--webhook-base-url",
        default="http://127.0.0.1:8000/webhooks",
        help="webhooks of provider P go to <this>/P",
    )
    serve.add_argument(
        "--providers", default="", help="comma-separated (default: every provider with a simulator)"
    )
    for name, help_text in (
        ("pay", "simulate the payer paying a SPEI/OXXO reference"),
        ("expire", "simulate a reference lapsing unpaid"),
    ):
        cmd = commands.add_parser(name, help=help_text)
        cmd.add_argument("provider")
        cmd.add_argument("object_id")
        cmd.add_argument("--url", default=DEFAULT_URL)
        if name == "pay":
            cmd.add_argument("--amount", help="pesos, e.g. 150.00 (default: all that is due)")
    refs = commands.add_parser("references", help="list pending references")
    refs.add_argument("--url", default=DEFAULT_URL)
    refs.add_argument("--provider", action="append")
    faults = commands.add_parser("faults", help="show or change fault injection")
    faults.add_argument("provider")
    faults.add_argument("settings", nargs="*", help="name=value (JSON values: 2, 0.5, true)")
    faults.add_argument("--reset", action="store_true")
    faults.add_argument("--url", default=DEFAULT_URL)
    return parser


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from puente_sandbox.app import create_sandbox_app

    names = [n for n in args.providers.split(",") if n] or simulator_names()
    env = load_settings().provider_env
    configs = {name: dict(env.get(name, {})) for name in names}
    app = create_sandbox_app(configs, args.webhook_base_url)
    print(f"sandbox for {', '.join(names)} on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port)
    return 0


def _call(method: str, url: str, **kwargs: Any) -> int:
    try:
        response = httpx.request(method, url, timeout=10.0, **kwargs)
    except httpx.HTTPError as exc:
        print(f"could not reach the sandbox at {url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(response.json(), indent=2) if response.content else response.status_code)
    return 0 if response.is_success else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``puente sandbox`` (wire it from ``puente.cli``)."""
    args = build_parser().parse_args(argv)
    if args.command in (None, "serve"):
        if args.command is None:
            args = build_parser().parse_args(["serve"])
        return _serve(args)
    base = args.url.rstrip("/")
    if args.command in ("pay", "expire"):
        body = {"amount": args.amount} if getattr(args, "amount", None) else {}
        return _call(
            "POST", f"{base}/{args.provider}/_references/{args.object_id}/{args.command}", json=body
        )
    if args.command == "references":
        names = args.provider or simulator_names()
        status = 0
        for name in names:
            status = max(status, _call("GET", f"{base}/{name}/_references"))
        return status
    url = f"{base}/{args.provider}/_faults"
    if args.reset:
        return _call("DELETE", url)
    if not args.settings:
        return _call("GET", url)
    changes = {}
    for item in args.settings:
        name, sep, text = item.partition("=")
        if not sep:
            print(f"expected name=value, got {item!r}", file=sys.stderr)
            return 2
        changes[name] = _value(text)
    return _call("POST", url, json=changes)
