"""The classify step with a local model configured: sure answers skip the LLM call."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from app.audit import timeline
from app.config import reset_settings
from app.db import session_scope
from app.errors import ConfigError
from app.evaluation import read_labeled
from app.localtier import cached_model, save_model
from app.localtier.train import train_model
from app.pipeline.classification import classify_text
from app.pipeline.runner import execute
from app.policy import BUNDLED_POLICY_PATH, get_policy, load_policy
from app.prompts import Turn
from tests.helpers import always_open_policy
from tests.localtier.conftest import BANKING
from tests.pipeline.test_steps import actions, load, new_message, sim_calls

INBOX = BUNDLED_POLICY_PATH.parents[1] / "demo" / "data" / "inbox.jsonl"
PolicyWith = Callable[..., str]


@pytest.fixture(scope="module")
def inbox_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the demo inbox, whose labels are the policy's intents."""
    examples = read_labeled(INBOX)
    model = train_model([e.text for e in examples], [e.label for e in examples])
    path = tmp_path_factory.mktemp("models") / "inbox.joblib"
    save_model(model, path)
    return path


@pytest.fixture
def policy_with(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str], tmp_path: Path
) -> PolicyWith:
    """Point KEEL_POLICY at the open-window policy with a local model configured."""

    def write(model: Path, min_confidence: float, pinned: str | None = None) -> str:
        pin = f'local_model_sha256 = "{pinned}"\n' if pinned else ""
        path = always_open_policy(
            tmp_path,
            **{
                "[routing]\n": (
                    f'[routing]\nlocal_model = "{model}"\nlocal_min_confidence = {min_confidence}\n'
                    + pin
                )
            },
        )
        monkeypatch.setenv("KEEL_POLICY", path)
        reset_settings()
        return path

    return write


def _classified_detail(message_id: str) -> dict[str, object]:
    with session_scope() as session:
        events = [e for e in timeline(session, message_id) if e.action == "classified"]
    assert len(events) == 1
    return events[0].detail


def test_a_sure_local_answer_skips_the_model_call_and_is_audited_as_tier_local(
    simulator: str, policy_with: PolicyWith, inbox_model_path: Path
) -> None:
    # Given a local model whose every answer counts as sure
    policy_with(inbox_model_path, 0.0)
    text = "Hola, ¿cuánto cuesta el curso intensivo de inglés?"
    mid = new_message(text)
    # When the message is classified
    assert execute("ingest", mid).kind == "advanced"
    assert execute("classify", mid).kind in ("advanced", "escalated")
    # Then no model was called, and the audit says the local tier answered for nothing
    assert sim_calls(simulator, "classify") == 0
    assert "model_call" not in actions(mid) and "classified" in actions(mid)
    detail = _classified_detail(mid)
    expected, confidence = cached_model(inbox_model_path).predict(text)
    assert detail["tier"] == "local" and detail["provider"] == "local"
    assert detail["model"] == "inbox.joblib" and detail["cost_usd"] == "0"
    assert detail["intent"] == expected and detail["confidence"] == pytest.approx(confidence)
    message = load(mid)
    assert message.intent == expected and message.language == "es"
    assert message.cost_usd == 0


def test_an_unsure_local_answer_falls_through_to_the_fast_tier(
    simulator: str, policy_with: PolicyWith, inbox_model_path: Path
) -> None:
    policy_with(inbox_model_path, 1.0)
    mid = new_message()
    execute("ingest", mid)
    execute("classify", mid)
    assert sim_calls(simulator, "classify") == 1
    assert "model_call" in actions(mid)
    detail = _classified_detail(mid)
    assert detail["tier"] == "fast" and detail["provider"] == "anthropic"
    assert load(mid).cost_usd > 0


def test_a_local_label_that_is_not_a_policy_intent_falls_through(
    simulator: str, policy_with: PolicyWith, tmp_path: Path
) -> None:
    # Given a model trained on bank intents, none of which the school's policy knows
    examples = read_labeled(BANKING)
    model = train_model([e.text for e in examples], [e.label for e in examples])
    save_model(model, tmp_path / "bank.joblib")
    policy_with(tmp_path / "bank.joblib", 0.0)
    mid = new_message()
    execute("ingest", mid)
    execute("classify", mid)
    assert sim_calls(simulator, "classify") == 1
    assert _classified_detail(mid)["tier"] == "fast"


def test_a_policy_naming_a_missing_model_file_fails_at_load(tmp_path: Path) -> None:
    path = always_open_policy(
        tmp_path, **{"[routing]\n": f'[routing]\nlocal_model = "{tmp_path / "nope.joblib"}"\n'}
    )
    with pytest.raises(ConfigError, match="local_model"):
        load_policy(path)


def _copy(model: Path, folder: Path) -> Path:
    """The model file and its sidecar, copied where a test may alter them."""
    target = folder / model.name
    target.write_bytes(model.read_bytes())
    Path(f"{target}.sha256").write_text(Path(f"{model}.sha256").read_text())
    return target


def test_a_model_file_altered_with_its_sidecar_is_refused_by_the_policys_pin_and_the_llm_classifies(
    simulator: str, policy_with: PolicyWith, inbox_model_path: Path, tmp_path: Path
) -> None:
    # Given a policy that pins the model's SHA-256, and a file someone replaced together
    # with its sidecar (the sidecar check alone passes)
    pinned = hashlib.sha256(inbox_model_path.read_bytes()).hexdigest()
    model = _copy(inbox_model_path, tmp_path)
    # (a model of the policy's intents: unpinned, it would answer every message here)
    inbox = read_labeled(INBOX)[:-40]
    other = train_model([e.text for e in inbox], [e.label for e in inbox])
    save_model(other, model)
    policy_with(model, 0.0, pinned)
    # When messages are classified
    ids = [new_message("¿Cuánto cuesta el curso?", external_id=f"wa-pin-{n}") for n in range(3)]
    for mid in ids:
        assert execute("ingest", mid).kind == "advanced"
        assert execute("classify", mid).kind in ("advanced", "escalated")
    # Then the fast tier classified every one (nothing dead-lettered, nothing local)
    assert sim_calls(simulator, "classify") == 3
    for mid in ids:
        assert load(mid).state != "dead"
        assert _classified_detail(mid)["tier"] != "local"


def test_a_model_file_that_breaks_after_start_falls_back_to_the_llm_never_a_dead_letter(
    simulator: str, policy_with: PolicyWith, inbox_model_path: Path, tmp_path: Path
) -> None:
    # Given a configured model whose file is then corrupted (its hash no longer matches)
    model = _copy(inbox_model_path, tmp_path)
    policy_with(model, 0.0)
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    # When a message is classified
    mid = new_message("¿Cuánto cuesta el curso?", external_id="wa-broken-model")
    assert execute("ingest", mid).kind == "advanced"
    assert execute("classify", mid).kind in ("advanced", "escalated")
    # Then the fast tier answered
    assert sim_calls(simulator, "classify") == 1
    assert load(mid).state != "dead"


def test_a_pin_that_is_not_a_sha256_is_refused_at_load(
    inbox_model_path: Path, tmp_path: Path
) -> None:
    path = always_open_policy(
        tmp_path,
        **{
            "[routing]\n": (
                f'[routing]\nlocal_model = "{inbox_model_path}"\nlocal_model_sha256 = "abc"\n'
            )
        },
    )
    with pytest.raises(ConfigError, match="local_model_sha256"):
        load_policy(path)


def test_a_turn_with_earlier_turns_is_classified_by_the_model_that_sees_them(
    simulator: str, policy_with: PolicyWith, inbox_model_path: Path
) -> None:
    # Given a local model whose every answer counts as sure
    policy_with(inbox_model_path, 0.0)
    policy = get_policy()
    history = [
        Turn(role="customer", text="¿Cuánto cuesta el curso intensivo de inglés?"),
        Turn(role="keel", text="El curso intensivo de inglés cuesta 450 €."),
    ]
    # When a follow-up that means what the conversation says is classified
    found = classify_text("¿y en reales?", policy=policy, message_id="m-1", history=history)
    # Then the fast tier's model, which reads the earlier turns, answered it
    assert found.tier == "fast" and sim_calls(simulator, "classify") == 1
    # while the same text alone is the local tier's
    alone = classify_text("¿y en reales?", policy=policy, message_id="m-2")
    assert alone.tier == "local" and sim_calls(simulator, "classify") == 1
