"""The result of one guardrail check, and which results stop a draft."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """What one check concluded about one draft (or one moment, for the send window).

    `reason` is a short machine code (`price_not_in_catalog`, `too_long`, ...) and
    `detail` holds JSON-serialisable evidence for the audit trail. A failing verdict
    with `blocking=False` (the send window) delays a reply instead of stopping it.
    """

    check: str
    passed: bool
    reason: str | None = None
    detail: dict[str, object] = field(default_factory=dict)
    blocking: bool = True

    def audit_detail(self) -> dict[str, object]:
        """The detail of this verdict's `guardrail` audit event."""
        head = {"check": self.check, "passed": self.passed, "reason": self.reason}
        return {**head, "blocking": self.blocking, **self.detail}


def blocked(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts that stop a draft: failed, and not merely a delay."""
    return [v for v in verdicts if not v.passed and v.blocking]
