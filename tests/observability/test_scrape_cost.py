"""A scrape costs the same with a million audit rows as with ten: it asks the database
nothing at all (counters are updated where events happen; queue depths and breakers come
from the broker and Redis), so the audit table's size cannot reach it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.metrics import registry

MILLION = 1_000_000

# Rows like a busy deployment's: fifteen events per message, model calls and guardrail
# verdicts among them, with their JSON detail (what the old scrape aggregated).
SEED = """
INSERT INTO audit_events
    (message_id, seq, at, trace_id, actor, action, step, detail, prev_hash, hash, hash_scheme)
SELECT
    'seed-' || (i / 15)::text,
    (i %% 15) + 1,
    now() - make_interval(secs => (%(rows)s - i) * 0.01),
    md5(i::text),
    'worker',
    (ARRAY['model_call', 'guardrail', 'classified', 'drafted', 'sent'])[(i %% 5) + 1],
    'draft',
    CASE WHEN i %% 5 = 0
        THEN json_build_object('keel.tier', 'fast', 'gen_ai.provider.name', 'openai',
                               'keel.status', 'ok', 'keel.cost_usd', '0.0001')
        ELSE json_build_object('check', 'prices', 'passed', i %% 7 <> 0, 'blocking', true)
    END,
    NULL,
    md5('h' || i::text) || md5('x' || i::text),
    'sha256'
FROM generate_series(%(first)s, %(first)s + %(rows)s - 1) AS i
"""


def seed(dsn: str, *, first: int, rows: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(SEED, {"first": first, "rows": rows})
        conn.commit()


def audit_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def statements_seen() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process sends meanwhile."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", listener)


def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_scrape_costs_the_same_with_a_million_audit_rows_as_with_ten(
    keel_env: dict[str, str],
) -> None:
    dsn = keel_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    reg = registry()
    # Given ten audit rows
    seed(dsn, first=0, rows=10)
    assert audit_rows(dsn) == 10
    # When Prometheus scrapes
    with statements_seen() as few:
        small = generate_latest(reg).decode()
    # And the table grows to a million rows and it scrapes again
    seed(dsn, first=10, rows=MILLION - 10)
    assert audit_rows(dsn) == MILLION
    with statements_seen() as many:
        large = generate_latest(reg).decode()
    # Then neither scrape sent the database one statement, and both read the same series
    assert few == [] and many == []
    assert series(small) == series(large)
    assert 'keel_metrics_source_up{source="broker"} 1.0' in large
    assert 'keel_metrics_source_up{source="redis"} 1.0' in large
