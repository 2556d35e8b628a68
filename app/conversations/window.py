"""Reply windows (SPEC 11): a channel may allow a free-form reply only so long after the
customer's last message (WhatsApp: 24 hours). Pure decisions."""

from __future__ import annotations

import datetime as dt


def window_closes_at(last_customer_at: dt.datetime, *, hours: float | None) -> dt.datetime | None:
    """When free-form replies stop being allowed; None when the channel has no window."""
    if hours is None:
        return None
    return last_customer_at + dt.timedelta(hours=hours)


def reply_window_open(
    *, last_customer_at: dt.datetime, hours: float | None, at: dt.datetime
) -> bool:
    """Whether a reply delivered at `at` falls inside the window."""
    closes = window_closes_at(last_customer_at, hours=hours)
    return closes is None or at <= closes
