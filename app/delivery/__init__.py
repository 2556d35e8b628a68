"""Delivery of approved replies: the signed webhook of SPEC 5, or the `log` channel
(shadow mode) when no webhook is configured."""

from app.delivery.webhook import idempotency_key, post_reply, sign

__all__ = ["idempotency_key", "post_reply", "sign"]
