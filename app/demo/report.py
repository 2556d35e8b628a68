"""The demo's closing summary (SPEC 10), printed with Rich: the figures of `build_report`
(the same as `keel report`), what the conversation threads did, the trace of one message
and one conversation as `keel conversation show` renders it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rich.columns import Columns
from rich.table import Table

from app.audit import timeline
from app.console import console
from app.conversations.manage import ConversationNotFound, get_conversation
from app.db import session_scope
from app.db.models import Message
from app.demo.receiver import ReceivedPost, WebhookReceiver
from app.demo.threads import Played
from app.policy import get_policy
from app.reporting import Report, build_report
from app.reporting.conversation import print_conversation
from app.reporting.tables import money, savings_table, tallies_table, tiers_table, usd
from app.reporting.trace import print_trace


@dataclass(frozen=True)
class Webhook:
    """What the demo's webhook receiver got."""

    posts: int
    keys: int
    signed: int

    @classmethod
    def of(cls, posts: Sequence[ReceivedPost]) -> Webhook:
        return cls(
            posts=len(posts),
            keys=len({p.idempotency_key for p in posts}),
            signed=sum(p.signature_ok for p in posts),
        )


def _table(title: str, rows: dict[str, int], *, column: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(column or title.split(" ")[0].lower())
    table.add_column("count", justify="right")
    for key, value in sorted(rows.items(), key=lambda kv: -kv[1]):
        table.add_row(key, str(value))
    if not rows:
        table.add_row("(none)", "0")
    return table


def _print_threads(played: Sequence[Played]) -> None:
    kinds = Counter(p.kind for p in played)
    reviews = Counter(p.review for p in played if p.review)
    decided = ", ".join(f"{n} {what}" for what, n in sorted(reviews.items())) or "none"
    console.print(
        f"Conversation threads: [bold]{len(played)}[/] played "
        f"({', '.join(f'{n} {kind}' for kind, n in kinds.most_common())}), "
        f"{sum(len(p.message_ids) for p in played)} messages; "
        f"reviews decided by a person: {decided}; "
        f"outcomes posted: {sum(1 for p in played if p.outcome_id)}"
    )
    failed = [p for p in played if p.error]
    waited = sum(p.timed_out for p in played)
    if failed or waited:
        console.print(
            f"[yellow]{len(failed)} threads failed"
            + (f" ({failed[0].thread}: {failed[0].error})" if failed else "")
            + f"; {waited} waits for a message to settle gave up[/]"
        )


def _print_conversations(s: Report) -> None:
    console.print(_table("No replies by reason", s.no_replies, column="reason"))
    console.print(
        f"Bursts: [bold]{s.coalesced}[/] messages coalesced into a later message's reply   "
        f"superseded: [bold]{s.superseded}[/] unsent replies withdrawn for a newer message"
    )
    console.print(
        f"Opt-outs: [bold]{s.contacts_opted_out}[/] contacts opted out "
        f"({s.opt_outs} opt-out messages); [bold]{s.opted_out_messages}[/] messages "
        "withdrawn or left unanswered (opted_out)"
    )
    console.print(
        f"Handoffs: [bold]{s.handoffs}[/] conversations taken over by a person; "
        f"[bold]{s.handoff_escalations}[/] later messages escalated to them (handoff)"
    )
    console.print(
        f"Reply windows closed: [bold]{s.reply_windows_closed}[/] replies escalated "
        "instead of sent (reply_window_closed)"
    )


def _print_conversions(s: Report) -> None:
    c = s.conversions
    console.print(
        f"Conversions: [bold]{c.count}[/] worth {money(c.total.value)} "
        f"in {c.conversations} conversations; not converted (lost): {c.not_converted}"
    )
    console.print(
        Columns(
            [
                tallies_table("Conversions by tier", c.by_tier),
                tallies_table("by answerer", c.by_answerer),
            ]
        )
    )
    console.print(
        f"Model cost per conversion: [bold]{usd(c.cost_per_conversion_usd)}[/] "
        f"(the converted conversations' {usd(c.conversations_cost_usd)}); "
        f"{usd(c.overall_cost_per_conversion_usd)} counting all model cost"
    )


def print_figures(
    s: Report,
    *,
    webhook: Webhook,
    elapsed_s: float,
    messages: int,
    played: Sequence[Played] = (),
) -> None:
    """Every figure of the summary, from a report and what the demo itself saw."""
    calls: Counter[str] = Counter()
    for group in s.calls:
        calls[f"{group.tier}:{group.provider}:{group.status}"] += group.calls
    settled = s.step_latency_s.get("received->settled")
    console.rule("[bold]Keel demo summary")
    console.print(_table("States (final)", s.by_state))
    console.print(
        f"Replies sent: [bold]{s.by_state.get('sent', 0)}[/] "
        f"(webhook received {webhook.posts} POSTs, "
        f"{webhook.keys} distinct Idempotency-Keys, "
        f"{webhook.signed} with a valid signature)"
    )
    console.print(_table("Escalations by reason", s.escalations))
    console.print(_table("Guardrail blocks", s.guardrail_hits))
    console.print(_table("Dead letters by reason", s.dead_letters))
    console.print(_table("Model calls (tier:provider:status)", dict(calls)))
    console.print(
        f"Failovers: [bold]{s.failover_total}[/]   parked: {s.actions.get('parked', 0)}   "
        f"drained: {s.actions.get('unparked', 0)}"
    )
    standard = s.counterfactuals.get("standard")
    savings = (
        f"{standard.savings_ratio:.1%}"
        if standard is not None and standard.savings_ratio is not None
        else "n/a"
    )
    console.print(
        f"Cost: [bold]${s.cost_usd:.4f}[/] against "
        f"${standard.cost_usd if standard else 0:.4f} had every message gone to the standard "
        f"tier (all-Sonnet): [bold green]{savings} saved[/]"
    )
    console.print(savings_table(s.counterfactuals))
    console.print(tiers_table(s.tiers))
    p50 = f"{settled.p50:.2f}" if settled and settled.p50 is not None else "n/a"
    p95 = f"{settled.p95:.2f}" if settled and settled.p95 is not None else "n/a"
    console.print(
        f"Latency received->settled: p50 {p50} s, p95 {p95} s; "
        f"{messages} messages in {elapsed_s:.1f} s = "
        f"[bold]{messages / max(elapsed_s, 1e-9):.1f} msg/s[/]"
    )
    console.rule("[bold]Conversations")
    if played:
        _print_threads(played)
    _print_conversations(s)
    _print_conversions(s)


def print_summary(
    *,
    receiver: WebhookReceiver,
    elapsed_s: float,
    messages: int,
    sample_id: str | None,
    played: Sequence[Played] = (),
    conversation: tuple[str, str] | None = None,
) -> None:
    """The figures, then the trace of `sample_id` and the `(channel, id)` conversation."""
    with session_scope() as session:
        s = build_report(session, policy=get_policy())
    print_figures(
        s,
        webhook=Webhook.of(receiver.accepted()),
        elapsed_s=elapsed_s,
        messages=messages,
        played=played,
    )
    if sample_id:
        console.rule(f"[bold]keel trace {sample_id}")
        with session_scope() as session:
            message = session.get(Message, sample_id)
            events = timeline(session, sample_id)
        if message is not None:
            print_trace(console, message, events)
    if conversation is not None:
        channel, conversation_id = conversation
        console.rule(f"[bold]keel conversation show {channel} {conversation_id}")
        try:
            with session_scope() as session:
                found = get_conversation(
                    session=session, channel=channel, conversation_id=conversation_id
                )
        except ConversationNotFound as exc:
            console.print(f"[red]{exc}[/]")
        else:
            print_conversation(console, found)
