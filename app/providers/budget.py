"""The daily spend limit, counted atomically in Redis across every worker.

Every model call's real cost is added to today's counter (UTC day). Flagship calls
first reserve an upper bound of their cost, and a reservation is refused once the day's
spend has reached the budget, so concurrent workers overspend by at most one call.
Past the budget the policy decides: `downgrade` flagship work to the standard tier, or
`park` it until the next day. The cheaper tiers keep answering either way.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.errors import KeelError
from app.policy import ModelRef, Policy
from app.providers.prompt import Prompt
from app.state import get_redis, keys, script

MICRO_USD = Decimal(1_000_000)
CHARS_PER_TOKEN_FLOOR = 2  # an upper bound on input tokens: no tokenizer packs fewer chars
COUNTER_TTL_S = 3 * 86_400

# Reserve only while today's spend is below the budget (the crossing call may go over).
_RESERVE = """
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if spent >= tonumber(ARGV[1]) then return -1 end
local now = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return now
"""
# Count a settled call's cost (the reservation's difference) and keep the day's key.
_SETTLE = """
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class OverBudget(KeelError):
    """Raised when today's spend has reached the policy's daily budget."""


def today(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")


def _micro(amount: Decimal) -> int:
    return int((amount * MICRO_USD).to_integral_value())


def spent_usd(*, day: str | None = None) -> Decimal:
    raw = get_redis().get(keys().spend(day or today()))
    return Decimal(int(raw or 0)) / MICRO_USD


def exhausted(policy: Policy, *, day: str | None = None) -> bool:
    budget = policy.routing.daily_budget_usd
    return budget is not None and spent_usd(day=day) >= budget


def estimate_usd(policy: Policy, ref: ModelRef, prompt: Prompt) -> Decimal:
    """An upper bound of one call's cost: every output token used, dense input."""
    chars = len(prompt.stable) + len(prompt.system) + len(prompt.user)
    return policy.price_of(ref).cost_usd(chars // CHARS_PER_TOKEN_FLOOR + 1, prompt.max_tokens)


def reserve(policy: Policy, *, tier: str, ref: ModelRef, prompt: Prompt) -> int:
    """Before a call: the micro-dollars reserved (0 when this call is not gated).

    Raises:
        OverBudget: a flagship call on a day whose spend reached the budget.
    """
    budget = policy.routing.daily_budget_usd
    if budget is None or tier != "flagship":
        return 0
    amount = _micro(estimate_usd(policy, ref, prompt))
    reserve_script = script(get_redis(), _RESERVE)
    result = int(
        reserve_script(keys=[keys().spend(today())], args=[_micro(budget), amount, COUNTER_TTL_S])
    )
    if result < 0:
        raise OverBudget(f"daily budget of ${budget} reached")
    return amount


def settle(policy: Policy, *, reserved_micro: int, cost_usd: Decimal) -> None:
    """After a call (or its failure): count its real cost, release the reservation."""
    if policy.routing.daily_budget_usd is None:
        return
    delta = _micro(cost_usd) - reserved_micro
    if delta:
        script(get_redis(), _SETTLE)(keys=[keys().spend(today())], args=[delta, COUNTER_TTL_S])
