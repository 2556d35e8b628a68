"""The review page over HTTP (the browser tests drive it in Chromium): sign-in with a
reviewer key only, the session cookie's flags, CSRF on every form, decisions signed with
the key's name, a blocked edit explained, every customer text escaped, what is stuck."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from app.api import create_app
from app.audit import timeline
from app.config import reset_settings
from app.db import session_scope
from app.db.models import Message, Review, utcnow
from app.pipeline.runner import execute
from tests.helpers import API_KEY, REVIEWER_KEY, REVIEWER_NAME
from tests.review.conftest import Escalate

GOOD = "¡Hola! El curso intensivo de inglés cuesta 450 €. ¿Te reservamos plaza?"
SITE = "https://keel.example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, key: str = REVIEWER_KEY) -> Any:
    token = csrf_of(client.get("/review").text)
    return client.post("/review/sign-in", data={"key": key, "csrf_token": token})


@pytest.fixture
def anonymous(keel_env: dict[str, str], open_window_policy: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(), base_url=SITE, follow_redirects=False, raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def page(anonymous: TestClient) -> TestClient:
    """A browser signed in as the test reviewer."""
    assert sign_in(anonymous).status_code == 303
    return anonymous


def state_of(message_id: str) -> tuple[Message, Review, list[str]]:
    with session_scope() as session:
        message = session.get(Message, message_id)
        review = session.exec(select(Review).where(Review.message_id == message_id)).one()
        assert message is not None
        return message, review, [e.action for e in timeline(session, message_id)]


def test_only_a_reviewer_key_signs_in_not_a_wrong_key_nor_an_ingest_key(
    anonymous: TestClient, escalated: Escalate
) -> None:
    _, rid = escalated()

    form = anonymous.get("/review")
    wrong = sign_in(anonymous, "not-a-key-0123456789")
    ingest = sign_in(anonymous, API_KEY)
    detail = anonymous.get(f"/review/{rid}")

    assert form.status_code == 200 and 'name="key"' in form.text
    assert wrong.status_code == 401 and "That is not a reviewer key." in wrong.text
    assert ingest.status_code == 401 and "That is not a reviewer key." in ingest.text
    assert detail.status_code == 303 and detail.headers["location"] == "/review"
    assert "Hola" not in anonymous.get("/review").text
    assert sign_in(anonymous).status_code == 303
    assert "Hola, ¿cuánto cuesta" in anonymous.get("/review").text


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [(SITE, True), ("http://127.0.0.1:8000", False), ("http://localhost:8000", False)],
)
def test_the_session_cookie_is_httponly_strict_and_secure_outside_loopback(
    keel_env: dict[str, str], base_url: str, secure: bool
) -> None:
    with TestClient(create_app(), base_url=base_url, follow_redirects=False) as client:
        first = client.get("/review")
        signed_in = sign_in(client)

    for response in (first, signed_in):
        cookie = response.headers["set-cookie"]
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert cookie.startswith("keel_review=")
        assert {"httponly", "samesite", "path"} <= attributes
        assert "samesite=strict" in cookie.lower() and "path=/review" in cookie.lower()
        assert ("secure" in attributes) is secure
    assert first.headers["set-cookie"] != signed_in.headers["set-cookie"]  # a new session


def test_every_form_post_without_the_sessions_csrf_token_is_refused(
    page: TestClient, escalated: Escalate
) -> None:
    mid, rid = escalated(draft=GOOD)
    other = TestClient(create_app(), base_url=SITE)
    foreign = csrf_of(other.get("/review").text)  # a real token, of another session

    posts = [
        (f"/review/{rid}/approve", {"text": GOOD}),
        (f"/review/{rid}/approve", {"text": GOOD, "csrf_token": foreign}),
        (f"/review/{rid}/reject", {}),
        (f"/review/{rid}/reject", {"csrf_token": ""}),
        ("/review/sign-out", {}),
        ("/review/sign-in", {"key": REVIEWER_KEY}),
    ]
    for path, data in posts:
        response = page.post(path, data=data)
        assert response.status_code == 403, (path, data)
        assert "The form had expired" in response.text

    message, review, actions = state_of(mid)
    assert message.state == "escalated" and review.status == "pending"
    assert "reviewed" not in actions
    assert "Hola, ¿cuánto cuesta" in page.get("/review").text  # still signed in


def test_a_decision_on_the_page_is_signed_with_the_keys_name_and_shown_at_once(
    page: TestClient, escalated: Escalate
) -> None:
    approved_mid, approved = escalated(contact_id="c-a")
    rejected_mid, rejected = escalated(draft=GOOD, contact_id="c-b")
    token = csrf_of(page.get(f"/review/{approved}").text)

    ok = page.post(f"/review/{approved}/approve", data={"text": GOOD, "csrf_token": token})
    no = page.post(f"/review/{rejected}/reject", data={"note": "spam", "csrf_token": token})

    assert ok.status_code == 303 and ok.headers["location"] == f"/review?decided={approved}#result"
    on_its_way = page.get(ok.headers["location"]).text
    assert "Approved by ana; the reply is on its way" in on_its_way
    # ... and the page looks again by itself a few times (no script), until it has left
    assert f'content="2; url=/review?decided={approved}&amp;poll=1#result"' in on_its_way
    assert 'http-equiv="refresh"' not in page.get(f"/review?decided={approved}&poll=3").text
    assert "Rejected by ana: nothing was sent" in page.get(no.headers["location"]).text
    with session_scope() as session:
        decided = {
            e.message_id: e.detail
            for mid in (approved_mid, rejected_mid)
            for e in timeline(session, mid)
            if e.action == "reviewed"
        }
    assert decided[approved_mid]["reviewer"] == REVIEWER_NAME
    assert decided[approved_mid]["via"] == "page" and decided[approved_mid]["edited"] is True
    assert decided[rejected_mid] == {
        "decision": "rejected",
        "review_id": rejected,
        "reviewer": REVIEWER_NAME,
        "via": "page",
        "note": "spam",
    }
    again = page.post(f"/review/{approved}/reject", data={"csrf_token": token})
    assert again.status_code == 409 and "already decided" in again.text


def test_a_blocked_edit_is_refused_with_the_reason_in_words_and_the_text_kept(
    page: TestClient, escalated: Escalate
) -> None:
    mid, rid = escalated()
    token = csrf_of(page.get(f"/review/{rid}").text)
    edit = "Hola Lucía,\r\nel intensivo cuesta 399 € y te devolvemos el dinero si no te gusta."

    refused = page.post(f"/review/{rid}/approve", data={"text": edit, "csrf_token": token})

    assert refused.status_code == 422
    assert "Not sent: the guardrails blocked this text." in refused.text
    assert "The text quotes a price that is not in the catalog: “399" in refused.text
    kept = re.search(r"<textarea[^>]*>(.*?)</textarea>", refused.text, re.S)
    assert kept and kept.group(1) == edit.replace("\r\n", "\n")
    message, review, actions = state_of(mid)
    assert message.state == "escalated" and review.status == "pending"
    assert "reviewed" not in actions


def test_no_customer_or_model_text_can_inject_markup_or_script(
    page: TestClient, escalated: Escalate
) -> None:
    hostile = '<script>alert("name")</script>'
    text = '</textarea><script>alert(1)</script><img src=x onerror="alert(2)"> ¿cuánto?'
    draft = '<a href="javascript:alert(3)">Hola</a>" onmouseover="alert(4)'
    _, rid = escalated(
        name=hostile,
        text=text,
        draft=draft,
        violations=[{"check": "links", "reason": "foreign_link", "foreign": ["<b>evil</b>"]}],
    )

    for url in ("/review", f"/review/{rid}"):
        html = page.get(url).text
        assert html.count("<script") == 1  # the page's own /review/static/review.js
        for raw in ("<img", "<b>evil", '<a href="javascript', 'onerror="', 'onmouseover="'):
            assert raw not in html, (url, raw)
        assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in html
    detail = page.get(f"/review/{rid}").text
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&lt;b&gt;evil&lt;/b&gt;" in detail
    assert (
        page.get(f"/review/{rid}")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )


def test_spanish_portuguese_and_english_text_is_served_as_utf8(
    page: TestClient, escalated: Escalate
) -> None:
    escalated(text="Olá! Quanto custa o curso de português? Obrigação, ação", contact_id="c-p")
    escalated(text="¿Cuánto cuesta? Año, niño, pingüino", name="Lucía Núñez", contact_id="c-e")

    response = page.get("/review")

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    body = response.content.decode("utf-8")
    for words in ("Olá! Quanto custa o curso de português?", "Año, niño, pingüino", "Lucía Núñez"):
        assert words in body


def test_the_queue_is_oldest_first_and_filters_by_reason_and_language(
    page: TestClient, escalated: Escalate
) -> None:
    escalated(text="primero: precio", contact_id="c-1")
    escalated(text="second: refund", reason="intent:refund_request", language="en", draft=None,
              contact_id="c-2")  # fmt: skip
    escalated(text="terceiro: dúvida", reason="low_confidence", language="pt", draft=None,
              contact_id="c-3")  # fmt: skip

    everything = page.get("/review").text
    refunds = page.get("/review?reason=intent:refund_request").text
    guardrail = page.get("/review?reason=guardrail").text
    portuguese = page.get("/review?language=pt").text

    order = [everything.index(t) for t in ("primero", "second", "terceiro")]
    assert order == sorted(order) and "3 waiting" in everything
    assert "refund request <span>1</span>" in everything
    assert "Portuguese <span>1</span>" in everything
    assert "second: refund" in refunds and "primero" not in refunds and "terceiro" not in refunds
    assert "primero" in guardrail and "second" not in guardrail
    assert "terceiro" in portuguese and "primero" not in portuguese


def test_dead_letters_and_parked_messages_are_listed_with_the_command_to_run(
    page: TestClient, escalated: Escalate
) -> None:
    dead_mid, _ = escalated(contact_id="c-d")
    parked_mid, _ = escalated(contact_id="c-p")
    with session_scope() as session:
        # the input check dead-letters a blank text; an outage parks the other one
        session.execute(
            sa.update(Message)
            .where(Message.id == dead_mid)  # type: ignore[arg-type]
            .values(state="received", next_step="ingest", text="   ")
        )
        session.execute(
            sa.update(Message)
            .where(Message.id == parked_mid)  # type: ignore[arg-type]
            .values(
                state="parked",
                next_step="draft",
                parked_tier="standard",
                park_reason="503,529",
                parked_at=utcnow(),
            )
        )
    assert execute("ingest", dead_mid).kind == "dead"

    html = page.get("/review").text

    assert "keel dlq replay --reason invalid_input --dry-run" in html
    assert re.search(r"keel dlq replay --id \d+", html)
    assert "could not be processed" in html
    assert parked_mid[:8] in html and "503,529" in html and "keel parked drain" in html


def test_a_form_post_over_the_body_limit_is_refused_before_it_is_parsed(
    page: TestClient, escalated: Escalate
) -> None:
    mid, rid = escalated()
    token = csrf_of(page.get(f"/review/{rid}").text)

    huge = page.post(f"/review/{rid}/approve", data={"text": "x" * 70_000, "csrf_token": token})
    unknown = page.get("/review/999999")

    assert huge.status_code == 413
    assert unknown.status_code == 404 and "No such review." in unknown.text
    assert state_of(mid)[0].state == "escalated"


def test_without_reviewer_keys_the_page_says_nobody_can_sign_in(
    monkeypatch: pytest.MonkeyPatch, keel_env: dict[str, str]
) -> None:
    monkeypatch.delenv("KEEL_REVIEWER_KEYS")
    reset_settings()
    with TestClient(create_app(), base_url=SITE, follow_redirects=False) as client:
        form = client.get("/review")
        attempt = client.post("/review/sign-in", data={"key": REVIEWER_KEY})

    assert "No reviewer keys are configured" in form.text and 'name="key"' not in form.text
    assert attempt.status_code == 403
