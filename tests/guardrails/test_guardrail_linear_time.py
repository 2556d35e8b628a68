"""Every output check takes time linear in its input, whatever the input holds (issue 13:
three regexes were quadratic; 8,000 characters of one word took 1.3 s). Measured as a
ratio within one run, not against the clock: ten times the text may cost at most 25
times the time (a quadratic check costs about a hundred times)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from app.guardrails import (
    check_contact_data,
    check_draft,
    check_echo,
    check_input,
    check_language,
    check_links,
    check_offers,
    check_prices,
    check_promises,
)
from app.guardrails.text import fold
from app.policy import load_policy

POLICY = load_policy(None)
SMALL, LARGE = 5_000, 50_000
MAX_RATIO = 25.0

CHECKS: dict[str, Callable[[str], object]] = {
    "prices": lambda t: check_prices(t, policy=POLICY),
    "offers": lambda t: check_offers(t, policy=POLICY),
    "promises": lambda t: check_promises(t, policy=POLICY, language="en"),
    "links": lambda t: check_links(t, policy=POLICY),
    "contact_data": lambda t: check_contact_data(t, policy=POLICY),
    "language": lambda t: check_language(t, policy=POLICY, language="en"),
    "prompt_echo": lambda t: check_echo(t, policy=POLICY),
    "input": lambda t: check_input(t, max_chars=LARGE * 2),
}
# Texts built to make a backtracking regex rescan: one long word, runs of digits,
# separators, amounts, links, at-signs, table pipes.
SHAPES: dict[str, Callable[[int], str]] = {
    "one_word": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "dots": lambda n: "." * n,
    "dashed": lambda n: "a-" * (n // 2),
    "amounts": lambda n: "€1" * (n // 2),
    "grouped": lambda n: "1.000," * (n // 6),
    "link": lambda n: "http://" + "a." * (n // 2),
    "at_signs": lambda n: "a@" * (n // 2),
    "pipes": lambda n: "x | " * (n // 4),
    "free": lambda n: "free " * (n // 5),
}


def best_of(runs: int, fn: Callable[[str], object], text: str) -> float:
    timings = []
    for _ in range(runs):
        fold.cache_clear()
        started = time.perf_counter()
        fn(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_ten_times_the_text_costs_about_ten_times_the_time(check: str, shape: str) -> None:
    fn, make = CHECKS[check], SHAPES[shape]
    small, large = make(SMALL), make(LARGE)
    fn(small)  # warm caches (compiled patterns, lingua's models)
    t_small = max(best_of(3, fn, small), 1e-3)  # below 1 ms a busy machine is the noise
    t_large = best_of(3, fn, large)
    assert t_large / t_small < MAX_RATIO, f"{check} on {shape}: {t_small:.4f}s -> {t_large:.4f}s"


def test_a_text_far_over_its_channels_limit_is_judged_by_its_length_alone() -> None:
    verdicts = check_draft("a" * 50_000, policy=POLICY, channel="whatsapp", language="en")
    assert [(v.check, v.passed) for v in verdicts] == [("length", False)]
