"""Delivery of approved replies: the signed webhook of SPEC 5, or the `log` channel
(shadow mode) when no webhook is configured, and the deliver step's work (`step.py`):
the reply's text is fixed in a delivery row before the first POST."""

from app.delivery.step import Delivered, deliver, delivery_payload, delivery_target, note_failure
from app.delivery.webhook import idempotency_key, post_reply, sign

__all__ = [
    "Delivered",
    "deliver",
    "delivery_payload",
    "delivery_target",
    "idempotency_key",
    "note_failure",
    "post_reply",
    "sign",
]
