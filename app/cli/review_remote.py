"""`keel review ... --url URL`: the review queue of a running Keel, over `/v1/reviews`.

For staff at a terminal away from the server: the reviewer key comes from
`KEEL_REVIEWER_KEY` (never an option, so it stays out of shell history and `ps`), the
server names the reviewer after it, and nothing can override the guardrails from here.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import typer

from app.console import err_console
from app.review import Decision, ReviewPublic

KEY_VARIABLE = "KEEL_REVIEWER_KEY"
TIMEOUT_S = 30.0


class Remote:
    """The review endpoints of the Keel at `url`, as the holder of a reviewer key."""

    def __init__(self, url: str) -> None:
        key = os.environ.get(KEY_VARIABLE, "").strip()
        if not key:
            err_console.print(f"set {KEY_VARIABLE} to your reviewer key to use --url")
            raise typer.Exit(2)
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=TIMEOUT_S,
        )

    def list(self, *, status: str, limit: int) -> list[ReviewPublic]:
        body = self._call("GET", "/v1/reviews", params={"status": status, "limit": limit})
        return [ReviewPublic.model_validate(r) for r in body["reviews"]]

    def approve(self, review_id: int, *, text: str | None) -> Decision:
        body = {"text": text} if text is not None else {}
        return Decision.model_validate(
            self._call("POST", f"/v1/reviews/{review_id}/approve", json=body)
        )

    def reject(self, review_id: int, *, reason: str | None) -> Decision:
        body = {"reason": reason} if reason is not None else {}
        return Decision.model_validate(
            self._call("POST", f"/v1/reviews/{review_id}/reject", json=body)
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON answer; a refusal or an unreachable server prints one line (and the
        guardrails' violations) and exits 1."""
        try:
            with self.client as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            err_console.print(f"refused: {self.client.base_url} did not answer ({exc})")
            raise typer.Exit(1) from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.is_success:
            return body
        error = body.get("error") or {}
        message = error.get("message") or f"HTTP {response.status_code}"
        if response.status_code in (401, 403):
            message += f" (is {KEY_VARIABLE} a reviewer key?)"
        err_console.print(f"refused: {message}")
        for violation in error.get("violations") or []:
            err_console.print(f"  {violation.get('check')}: {violation.get('reason')}")
        raise typer.Exit(1)
