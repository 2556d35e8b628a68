"""The `/_sim/*` control endpoints: rules, outages, stats and health."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.simulator.rules import parse_rules
from app.simulator.state import OutageRequest

if TYPE_CHECKING:
    from app.simulator.server import Simulator

Reply = tuple[int, Any]


def _invalid(kind: str, message: str, details: Any = None) -> Reply:
    error: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        error["details"] = details
    return 422, {"error": error}


def _validation_reply(kind: str, exc: ValidationError) -> Reply:
    details = json.loads(exc.json(include_url=False))
    first = details[0] if details else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")
    return _invalid(kind, message, details)


def _json(body: bytes) -> Any:
    return json.loads(body) if body.strip() else None


def _flag(scope: MutableMapping[str, Any], name: str) -> bool:
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key.decode() == name:
            return value.lower() in (b"", b"1", b"true", b"yes")
    return False


async def handle_admin(sim: Simulator, scope: MutableMapping[str, Any], body: bytes) -> Reply:
    """Answer one control request: (HTTP status, JSON payload)."""
    path: str = scope["path"].rstrip("/")
    method: str = scope["method"]
    if path == "/_sim/health":
        return 200, {"status": "ok"}
    if path == "/_sim/rules":
        if method == "GET":
            return 200, {"rules": sim.rules.describe(), "outages": sim.outages.describe()}
        if method == "DELETE":
            sim.rules.clear()
            sim.outages.clear()
            return 200, {"rules": [], "outages": []}
        if method == "POST":
            try:
                rules = parse_rules(_json(body))
            except ValueError as exc:
                if isinstance(exc, ValidationError):
                    return _validation_reply("invalid_rule", exc)
                return _invalid("invalid_json", f"request body is not valid JSON: {exc}")
            sim.rules.add(rules, first=_flag(scope, "first"))
            return 200, {"added": len(rules), "rules": sim.rules.describe()}
    elif path == "/_sim/outage":
        if method == "POST":
            try:
                outage = OutageRequest.model_validate(_json(body))
            except ValueError as exc:
                if isinstance(exc, ValidationError):
                    return _validation_reply("invalid_outage", exc)
                return _invalid("invalid_json", f"request body is not valid JSON: {exc}")
            sim.outages.start(outage)
            return 200, {"outages": sim.outages.describe()}
        if method == "DELETE":
            sim.outages.clear()
            return 200, {"outages": []}
        if method == "GET":
            return 200, {"outages": sim.outages.describe()}
    elif path == "/_sim/stats":
        if method == "GET":
            return 200, sim.stats.snapshot()
        if method == "DELETE":
            sim.stats.reset()
            return 200, sim.stats.snapshot()
    else:
        return 404, {"error": {"type": "not_found", "message": f"No route for {path}"}}
    return 405, {"error": {"type": "method_not_allowed", "message": f"{method} {path}"}}
