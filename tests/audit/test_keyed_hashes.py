"""With KEEL_AUDIT_KEY, every event's hash is an HMAC-SHA256 keyed by it, so someone with
only database access cannot recompute a chain: a row rewritten and rehashed with plain
SHA-256 is caught, whatever its `hash_scheme` claims. Chains written before the key
was set (and registered by `keel db upgrade`) still verify."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from app.audit import record, timeline
from app.audit.admin import register_key
from app.audit.chain import PLAIN, keyed_scheme, stored_body
from app.cli.main import cli
from app.db import session_scope
from app.db.models import AuditEvent
from app.pipeline.runner import execute
from tests.audit.chains import (
    TEST_KEY,
    behind_the_triggers,
    broken,
    chains,
    rehash,
    runner,
    use_key,
    verify_cli,
)
from tests.audit.test_chain_head import new_message


def events_of(message_id: str) -> list[AuditEvent]:
    with session_scope() as session:
        return timeline(session, message_id)


def test_with_the_key_every_event_is_keyed_and_verifies_only_with_it(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given KEEL_AUDIT_KEY, and a message taken through its first step
    use_key(monkeypatch, TEST_KEY)
    message_id = new_message()
    assert execute("ingest", message_id).kind == "advanced"  # the one-statement commit
    events = events_of(message_id)
    # Then every event is an HMAC with that key, not a plain SHA-256
    assert len(events) > 1
    for event in events:
        assert event.hash_scheme == keyed_scheme(TEST_KEY)
        assert event.hash != hashlib.sha256(stored_body(event)).hexdigest()
    code, report = verify_cli()
    assert (code, report["keyed"], report["broken"]) == (0, True, [])
    # And without the key, or with another, nothing keyed can be checked
    for other in (None, "another-key-0123456789"):
        use_key(monkeypatch, other)
        code, report = verify_cli()
        assert code == 1 and broken(report) == [(message_id, "unknown_key", 1)], other


def test_an_event_rehashed_with_plain_sha256_is_caught_when_the_key_is_set(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the key, registered, and three keyed chains
    use_key(monkeypatch, TEST_KEY)
    assert register_key() is not None
    naive, relabelled, rewritten = chains([4, 4, 4])
    assert verify_cli()[0] == 0
    # When someone with only database access changes seq 2 of each and recomputes the
    # chains (and the heads) with plain SHA-256: keeping the scheme the row names,
    # relabelling the changed rows "sha256", or rewriting the whole chain as plain
    with behind_the_triggers(keel_env["DATABASE_URL"]) as conn:
        for message_id, from_seq, scheme in (
            (naive, 2, None),
            (relabelled, 2, PLAIN),
            (rewritten, 1, PLAIN),
        ):
            conn.execute(
                sa.text(
                    'UPDATE audit_events SET detail = \'{"refund": "yes"}\' '
                    "WHERE message_id = :m AND seq = 2"
                ),
                {"m": message_id},
            )
            rehash(conn, message_id, from_seq=from_seq, key=None, scheme=scheme)
    # Then each is caught: a hash that is not the key's, or a plain row where the key
    # was required
    code, report = verify_cli()
    assert code == 1
    assert sorted(broken(report), key=repr) == sorted(
        [(naive, "bad_hash", 2), (relabelled, "unkeyed", 2), (rewritten, "unkeyed", 1)],
        key=repr,
    )


def test_chains_written_before_the_key_was_set_still_verify(
    keel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given chains hashed with plain SHA-256, before any key
    (old,) = chains([3])
    assert events_of(old)[0].hash_scheme == PLAIN
    # When the key is set, unregistered, every event must be keyed: the old ones are not
    use_key(monkeypatch, TEST_KEY)
    code, report = verify_cli()
    assert code == 1 and broken(report) == [(old, "unkeyed", 1)]
    table = runner.invoke(cli, ["audit", "verify"])
    assert "keel db upgrade" in table.stdout
    # When the release registers it (twice: once is kept) and events follow, keyed
    for time in (1, 2):
        upgraded = runner.invoke(cli, ["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        assert ("KEEL_AUDIT_KEY registered" in upgraded.stdout) is (time == 1)
    with session_scope() as session:
        registrations = session.execute(
            sa.text("SELECT count(*) FROM audit_events WHERE action = 'audit_key'")
        ).scalar_one()
    assert registrations == 1
    chains([2])
    with session_scope() as session:
        record(session, message_id=old, action="reconciled", actor="beat")
    # Then the old chain, plain then keyed, and the new one, keyed, all verify
    assert [e.hash_scheme for e in events_of(old)] == [PLAIN] * 3 + [keyed_scheme(TEST_KEY)]
    code, report = verify_cli()
    assert code == 0 and report["keyed"] is True, report
