"""Acknowledge first (issue 13): every slash command, button, select and modal the bot has gets
its first response (a defer, or the answer) before the bot's first SQL statement for it; the
commands and components that open a modal (which must be the first response) only read before
it. With the database away every command gets a true, polite line in time and nothing changes;
an interaction already too old is dropped unanswered and counted.

Commands are enumerated from the bot's own command tree, buttons and selects from its dynamic
items and forms from its modal classes and form routes, so a new one fails these tests until it
is given a sample here (and then has to follow the rule)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot import interactions
from bot.clock import FakeClock
from bot.db import create_engine
from bot.failures import STORAGE_SLOW, STORAGE_UNAVAILABLE
from bot.interactions import (
    CURRENT,
    MODAL_FIRST,
    NOT_YOURS,
    BaseModal,
    FirstResponse,
    component_first,
    given_options,
)
from bot.metrics import Metrics
from bot.sandbox import Sandbox, sandbox
from emulator import Member, Message, NoAnswerError
from emulator.interactions import MODAL, InteractionRecord, Modal, Reply
from models import Base
from tests.dbutil import on_postgres, truncate_all
from tests.e2e.test_profiles_forum import write_profile

DEFERRED = (5, 6)  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE
UNEXPECTED = "Something went wrong on my side"


@dataclass
class Statements:
    """Every SQL statement the bot's engine runs, with the interaction it ran for (if any) and
    when (event-loop time, the clock the emulator stamps callbacks with)."""

    seen: list[tuple[int | None, float, str]] = field(default_factory=list)

    def before(self, record: InteractionRecord) -> list[str]:
        """The statements run for ``record`` before its first response reached the emulator."""
        assert record.answered_at is not None, f"{record.name} was never answered"
        return [sql for iid, at, sql in self.seen if iid == record.id and at < record.answered_at]

    def of(self, record: InteractionRecord) -> list[str]:
        return [sql for iid, _, sql in self.seen if iid == record.id]


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[Statements]:
    statements = Statements()

    def before_cursor_execute(*args: Any) -> None:
        statement = str(args[2])
        statements.seen.append((CURRENT.get(), asyncio.get_running_loop().time(), statement))

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)


@dataclass
class Checked:
    sb: Sandbox
    statements: Statements
    names: set[str] = field(default_factory=set)
    with_sql: int = 0

    def deferred_first(self, reply: Reply, what: str) -> Reply:
        record = reply.interaction
        assert record.response_type in DEFERRED, (what, record.response_type)
        assert self.statements.before(record) == [], what
        self._seen(record, what, reply)
        return reply

    def modal_first(self, reply: Reply, what: str) -> Reply:
        """A modal (or a polite line instead) came first, after reads only."""
        record = reply.interaction
        assert record.response_type in (MODAL, 4), (what, record.response_type)
        for sql in self.statements.before(record):
            assert sql.lstrip().upper().startswith(("SELECT", "PRAGMA")), (what, sql)
        self._seen(record, what, reply)
        return reply

    def _seen(self, record: InteractionRecord, what: str, reply: Reply) -> None:
        if reply.kind != "modal":
            assert UNEXPECTED not in (reply.content or ""), (what, reply.content)
        self.names.add(what)
        if self.statements.of(record):
            self.with_sql += 1


def forged(sb: Sandbox, component: dict[str, Any]) -> Message:
    """A message from the bot with a component the bot never made (as a client could forge):
    the ordering rule holds whatever the row it names."""
    return sb.emu.world.create_message(
        sb.pairs,
        sb.emu.bot_user,
        {"content": "An old message", "components": [{"type": 1, "components": [component]}]},
    )


def forged_form(opened: Modal, custom_id: str) -> Modal:
    data = dict(opened.data)
    data["custom_id"] = custom_id
    return Modal(data, opened.opened_by)


def slash_samples(sb: Sandbox, alice: Member) -> dict[str, tuple[Member, dict[str, Any]]]:
    """One invocation of every slash command: who runs it, with which options."""
    mod = sb.moderator
    return {
        "help": (alice, {}),
        "profile edit": (alice, {"timezone": "Europe/Berlin"}),
        "profile private": (alice, {"age": "25-34"}),
        "profile show": (alice, {}),
        "partner find": (alice, {}),
        "partner pause": (alice, {"until": "10d"}),
        "partner leave": (alice, {}),
        "admin setup": (mod, {"goal_areas": "writing, fitness"}),
        "admin match-now": (mod, {}),
        "admin schedule": (mod, {}),
        "admin stats": (mod, {}),
        "goal add": (alice, {"text": "Write 500 words"}),
        "goal list": (alice, {}),
        "goal done": (alice, {"goal": "123456"}),
        "goal edit": (alice, {"goal": "123456", "text": "Write 600 words"}),
        "goal drop": (alice, {"goal": "123456"}),
        "checkin time": (alice, {"day": "Sunday", "time": "18:00"}),
        "checkin snooze": (alice, {"week": "next"}),
        "stats": (alice, {}),
        "pair status": (alice, {}),
        "pair meeting": (alice, {"day": 1, "time": "18:00", "zone": "Europe/Berlin"}),
        "pair end": (alice, {}),
        "pair block": (alice, {}),
        "report": (alice, {}),
        "privacy export": (alice, {}),
        "privacy delete": (alice, {}),
    }


def tree_commands(sb: Sandbox) -> set[str]:
    return {
        c.qualified_name for c in sb.bot.tree.walk_commands() if isinstance(c, app_commands.Command)
    }


BUTTON_SAMPLES: dict[str, str] = {
    "RequestButton": "pairbot:request:123456",
    "DecisionButton": "pairbot:req:accept:987",
    "ProposalButton": "pairbot:prop:accept:987",
    "TrialButton": "pairbot:trial:continue:987",
    "MetButton": "pairbot:met:yes:987",
    "QuietButton": "pairbot:quiet:wait:987",
    "CheckinButton": "pairbot:g:ci:987:done",
    "FeedbackButton": "pairbot:g:fb:987",
    "WhyButton": "pairbot:g:why:987",
}
MODAL_BUTTON_SAMPLES = ("pairbot:g:ci:987:note", "pairbot:prop:decline:987")
SELECT_SAMPLES: dict[str, str] = {"ReasonSelect": "pairbot:g:reason:987"}
FORM_SAMPLES = ("pairbot:g:note:987", "pairbot:g:fbm:987", "pairbot:g:help:987:time")


def dynamic_items(sb: Sandbox) -> set[str]:
    store = sb.bot._connection._view_store
    return {item.__name__ for item in store._dynamic_items.values()}


async def test_every_interaction_is_acknowledged_before_any_database_work(sb: Sandbox) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "Alice here")
    samples = slash_samples(sb, alice)
    assert set(samples) == tree_commands(sb), "give every slash command a sample here"
    items = dynamic_items(sb)
    assert set(BUTTON_SAMPLES) | set(SELECT_SAMPLES) == items, "a sample for every item"
    with recording(sb.bot.deps.engine) as statements:
        check = Checked(sb, statements)
        # --- slash commands, as the tree has them (the form-opening ones with their forms)
        for name, (who, options) in samples.items():
            reply = await who.slash(name, options=options)
            rule = MODAL_FIRST.get(name)
            if rule is not None and rule(frozenset(options)):
                check.modal_first(reply, name)
                assert reply.modal is not None, name
                labels = reply.modal.labels
                submitted = await who.submit(reply.modal, {labels[0]: "It's about a problem"})
                check.deferred_first(submitted, f"{name} form")
            else:
                check.deferred_first(reply, name)
        opened = check.modal_first(await alice.slash("profile edit"), "profile edit (form)")
        assert opened.modal is not None
        check.deferred_first(
            await alice.submit(opened.modal, {"A short intro": "Hello again"}),
            "profile edit form",
        )
        # --- the buttons of a command's reply (views)
        edited = await alice.slash("profile edit", timezone="Europe/Berlin")
        form = check.modal_first(await alice.press(edited, "Edit intro & goals"), "edit button")
        assert form.modal is not None
        for name, label in (("pair block", "Cancel"), ("pair block", "Block")):
            asked = await alice.slash(name)
            check.deferred_first(await alice.press(asked, label), f"{name}: {label}")
        asked = await alice.slash("privacy delete")
        check.deferred_first(await alice.press(asked, "Keep my data"), "privacy: keep")
        # --- every dynamic button and select, whatever row it names
        for name, custom_id in BUTTON_SAMPLES.items():
            button = {"type": 2, "style": 1, "label": "Press me", "custom_id": custom_id}
            reply = await alice.press(forged(sb, button), "Press me")
            if component_first(custom_id) is FirstResponse.MODAL:
                check.modal_first(reply, name)
            else:
                check.deferred_first(reply, name)
        decline: Modal | None = None
        for custom_id in MODAL_BUTTON_SAMPLES:
            assert component_first(custom_id) is FirstResponse.MODAL
            button = {"type": 2, "style": 1, "label": "Press me", "custom_id": custom_id}
            reply = check.modal_first(await alice.press(forged(sb, button), "Press me"), custom_id)
            decline = reply.modal or decline
        for name, custom_id in SELECT_SAMPLES.items():
            select_menu = {
                "type": 3,
                "custom_id": custom_id,
                "options": [{"label": "Not enough time", "value": "time"}],
            }
            reply = await alice.choose(forged(sb, select_menu), ["time"])
            check.modal_first(reply, name)
        # --- every form: the decline form, and the forms routed by custom_id
        assert decline is not None, "the decline button opens its form without any read"
        label = decline.labels[0]
        for custom_id in FORM_SAMPLES:
            reply = await alice.submit(forged_form(decline, custom_id), {label: "Some words"})
            check.deferred_first(reply, f"form {custom_id}")
        reply = await alice.submit(decline, {label: "Not now"})
        check.deferred_first(reply, "DeclineModal")
        # Last, as it deletes Alice's data.
        asked = await alice.slash("privacy delete")
        check.deferred_first(await alice.press(asked, "Delete everything"), "privacy: delete")
    routes = [pattern for pattern, _ in sb.bot._connection._view_store.forms]
    assert all(any(p.fullmatch(c) for c in FORM_SAMPLES) for p in routes), "every form route"
    modal_classes = {cls.__name__ for cls in BaseModal.__subclasses__()}
    assert modal_classes == {"DeclineModal", "EndModal", "ReportModal", "ProfileTextModal"}
    # The record can see what it checks: most of these interactions reached the database.
    assert check.with_sql >= len(check.names) // 2, (check.with_sql, len(check.names))


async def test_given_options_reads_below_subcommands() -> None:
    data = {
        "name": "profile",
        "options": [
            {"type": 1, "name": "edit", "options": [{"type": 3, "name": "timezone", "value": "x"}]}
        ],
    }
    assert given_options(data) == {"timezone"}
    assert given_options({"name": "profile", "options": [{"type": 1, "name": "edit"}]}) == set()


# --------------------------------------------------------------------------- database away


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    counts = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await conn.scalar(select(func.count()).select_from(table)))
    return counts


def unreachable(tmp_path: Path) -> AsyncEngine:
    if on_postgres():  # nothing listens on port 1: connections are refused
        return create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/pairbot", connect_timeout=2)
    # A file in a folder that does not exist (bot.db.create_engine would make the folder).
    return create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'pairbot.sqlite3'}")


@pytest.fixture
async def away(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[tuple[Sandbox, AsyncEngine]]:
    """A sandbox whose database then goes away: every session of the bot's (commands, the
    access cache, the dispatcher) binds to an engine that cannot connect."""
    async with sandbox(database_url=database_url, clock=clock) as box:
        gone = unreachable(tmp_path)
        box.bot.deps.sessions.configure(bind=gone)
        try:
            yield box, gone
        finally:
            box.bot.deps.sessions.configure(bind=box.bot.deps.engine)
            await gone.dispose()
        box.emu.assert_no_violations()
    if on_postgres():
        engine = create_engine(database_url)
        await truncate_all(engine)
        await engine.dispose()


async def test_with_the_database_away_every_command_says_so_politely_and_changes_nothing(
    away: tuple[Sandbox, AsyncEngine], database_url: str
) -> None:
    sb, _ = away
    alice = sb.member("alice")
    real = create_engine(database_url)
    try:
        before = await row_counts(real)
        unavailable = STORAGE_UNAVAILABLE.split("(reference")[0].strip()
        for name, (who, options) in slash_samples(sb, alice).items():
            if name == "help":
                continue  # the one command that needs no database
            reply = await who.slash(name, options=options)  # in time, or NoAnswerError
            record = reply.interaction
            assert record.answered_at is not None and not record.late, name
            assert reply.kind == "message", (name, reply.kind)
            assert unavailable in reply.content, (name, reply.content)
            assert "Nothing you entered was lost" not in reply.content, name
        choices = await alice.autocomplete("goal add", "area", "wri")
        assert choices == []  # no suggestions, but an answer in time
        assert await row_counts(real) == before
    finally:
        await real.dispose()


# --------------------------------------------------------------------------- too old


class Ahead:
    """Real time, moved ahead: every interaction looks ``by`` older than it is."""

    def __init__(self, by: timedelta) -> None:
        self.by = by

    def now(self) -> Any:
        from datetime import UTC, datetime

        return datetime.now(UTC) + self.by


def dropped(metrics: Metrics, command: str) -> float:
    value = metrics.registry.get_sample_value(
        "pairbot_deadlines_missed_total", {"command": command, "why": "dropped"}
    )
    return value or 0.0


async def test_an_interaction_already_too_old_is_dropped_unanswered_and_counted(
    database_url: str, clock: FakeClock
) -> None:
    metrics = Metrics()
    skew = Ahead(timedelta(seconds=2.6))
    async with sandbox(
        database_url=database_url, clock=clock, metrics=metrics, wall_clock=skew
    ) as sb:
        alice = sb.member("alice")
        with recording(sb.bot.deps.engine) as statements:
            with pytest.raises(NoAnswerError):
                await alice.slash("goal add", text="Too late to matter")
            button = {"type": 2, "style": 1, "label": "Press me", "custom_id": "pairbot:met:yes:9"}
            with pytest.raises(NoAnswerError):
                await alice.press(forged(sb, button), "Press me")
        assert dropped(metrics, "goal add") == 1
        assert dropped(metrics, "component") == 1
        late = [r for r in sb.emu.actions.by_id.values() if r.response_type is None]
        assert len(late) == 2 and all(statements.of(r) == [] for r in late)
        skew.by = timedelta(0)  # in time again: answered, and measured
        added = await alice.slash("goal add", text="Write 500 words")
        assert "Goal added" in added.content
        assert dropped(metrics, "goal add") == 1
        count = metrics.registry.get_sample_value(
            "pairbot_command_first_response_seconds_count", {"command": "goal add"}
        )
        answered = metrics.registry.get_sample_value(
            "pairbot_command_final_answer_seconds_count", {"command": "goal add"}
        )
        assert count == 1 and answered == 1
        async with sb.bot.deps.sessions() as session:
            goals = (await session.execute(text("SELECT text FROM goals"))).scalars().all()
        assert list(goals) == ["Write 500 words"]  # the dropped one did nothing
        sb.emu.assert_no_violations()
    if on_postgres():
        engine = create_engine(database_url)
        await truncate_all(engine)
        await engine.dispose()


# --------------------------------------------------------------------------- someone else's


async def test_someone_elses_confirm_buttons_get_a_polite_line_and_change_nothing(
    sb: Sandbox,
) -> None:
    """Regression: private confirm buttons pressed by anyone but their owner were deferred and
    then left in silence. (Discord shows an ephemeral message to its owner only; a client that
    forges the press still gets an answer.)"""
    alice, bob = sb.member("alice"), sb.member("bob")
    for asked_by, command, label in (
        (alice, "pair block", "Block"),
        (alice, "privacy delete", "Delete everything"),
    ):
        options = {"member": bob} if command == "pair block" else {}
        asked = await asked_by.slash(command, options=options)
        assert asked.message is not None
        sb.emu.world.messages[asked.message.id].visible_to = None  # as a forging client sees it
        refused = await bob.press(asked, label)
        assert refused.ephemeral and refused.content == NOT_YOURS, refused.content
        assert label in sb.emu.world.messages[asked.message.id].button_labels  # untouched
    async with sb.bot.deps.sessions() as session:
        blocks = await session.scalar(text("SELECT count(*) FROM blocks"))
    assert blocks == 0


# --------------------------------------------------------------------------- slow reads


async def test_a_slow_read_before_a_form_or_for_autocomplete_is_cut_short_politely(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A form must be the first response, so its reads are bounded: when they take too long
    the member is told so in time (not a missed deadline), and autocomplete offers nothing."""
    alice = sb.member("alice")
    stuck = asyncio.Event()  # never set: a database that does not answer

    async def never(*_args: Any) -> Any:
        await stuck.wait()

    monkeypatch.setattr(interactions, "MODAL_READ_SECONDS", 0.0)  # the bound is reached at once
    monkeypatch.setattr(interactions, "AUTOCOMPLETE_SECONDS", 0.05)
    monkeypatch.setattr(sb.bot.access, "facts", never)
    for command in ("pair end", "report", "profile edit"):
        reply = await alice.slash(command)
        assert reply.interaction.response_type == 4, command  # an answer, not a missed deadline
        assert reply.ephemeral and reply.content == STORAGE_SLOW, (command, reply.content)
    assert await alice.autocomplete("goal add", "area", "wri") == []
