"""``/goal`` and ``/checkin``, the check-in buttons in DMs, the partner's "Give feedback", and
the weekly prompt's reasons. Thin glue over ``bot.services.goals``.

Every button and select is a :class:`discord.ui.DynamicItem` whose ``custom_id`` names what it
is about (a check-in, a goal), so messages sent weeks ago keep working after restarts. Forms
(modals) are sent *stopped*, so discord.py keeps no state for them, and their submissions are
handled here by ``custom_id`` in :meth:`Goals.form_submitted`: a form open while the bot
restarts is still received.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PairBot
from bot.charts import weekly_chart
from bot.db import read_only, unit_of_work
from bot.domain import goals as g
from bot.domain.posts import ts
from bot.interactions import (
    add_form_route,
    read_before_modal,
    report_error,
    send_ephemeral,
    thinking,
)
from bot.services import goals, outbox
from bot.services.goals import GoalBoard, GoalView

log = logging.getLogger(__name__)

T = TypeVar("T")

Interaction = discord.Interaction[Any]
LIST_EMBED_BUDGET = 2800


def _bot(interaction: Interaction) -> PairBot:
    assert isinstance(interaction.client, PairBot)
    return interaction.client


async def _read(bot: PairBot, service: Callable[..., Awaitable[T]], /, **options: Any) -> T:
    """One read-only service call (the reads before a form, which must be quick)."""
    async with read_only(bot.deps.sessions) as session:
        return await service(session, **options)


async def _for_member(
    bot: PairBot, interaction: Interaction, service: Callable[..., Awaitable[T]], /, **options: Any
) -> T:
    """Defer privately, then run one service call for the member who asked, in one unit of
    work (the service takes the session, guild_id, user_id and now, plus ``options``)."""
    assert interaction.guild_id is not None
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        return await service(
            session,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            now=bot.deps.clock.now(),
            **options,
        )


# --------------------------------------------------------------------------- rendering


def goal_line(goal: GoalView) -> str:
    icon = g.STATUS_ICONS.get(goal.status, "•")
    text = goal.text if len(goal.text) <= 120 else goal.text[:119] + "…"
    parts = [f"{icon} **{text}**", f"due {ts(goal.deadline, 'D')}"]
    if goal.area:
        parts.append(goal.area)
    if goal.status != "open":
        parts.append(g.STATUS_WORDS[goal.status])
    return " · ".join(parts)


def _lines_within(lines: list[str], budget: int) -> str:
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(f"…and {len(lines) - index} more")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def board_embeds(board: GoalBoard) -> list[discord.Embed]:
    """``/goal list`` as embeds (one per person), each well inside Discord's limits."""
    mine = [goal_line(goal) for goal in board.mine] or ["No goals yet: add one with `/goal add`."]
    embeds = [discord.Embed(title="Your goals", description=_lines_within(mine, LIST_EMBED_BUDGET))]
    budget = (5800 - len(embeds[0].description or "")) // max(1, len(board.partners))
    for user_id, theirs in board.partners:
        lines = [goal_line(goal) for goal in theirs] or ["No goals yet."]
        embeds.append(
            discord.Embed(
                title="Your partner's goals",
                description=f"<@{user_id}>\n" + _lines_within(lines, min(budget, 2800) - 40),
            )
        )
    return embeds


def due_words(goal: GoalView, board: GoalBoard) -> str:
    """ "due <when> (<which>)": the due moment as a Discord timestamp, and what it belongs to."""
    if goal.meeting_at is not None:
        return (
            f"due {ts(goal.deadline, 'F')}, before your next meeting ({ts(goal.meeting_at, 'F')})"
        )
    return f"due {ts(goal.deadline, 'F')} ({g.due_label(goal.due, today=board.today)})"


def checkin_words(goal: GoalView) -> str:
    if goal.checkin_at is None:
        return "I'll check in with you by DM before it's due."
    return f"I'll check in with you by DM {ts(goal.checkin_at, 'F')} ({ts(goal.checkin_at, 'R')})."


def answer_reply(result: goals.AnswerResult) -> str:
    answer = result.answer or ""
    text = {
        "done": "✅ Saved: **done**. Well done! 🎉",
        "partly": "🌓 Saved: **partly**. Progress counts.",
        "missed": "Saved: **missed**. That's information, not failure: at the end of the week "
        "I'll ask what got in the way.",
    }.get(answer, "Saved.")
    if result.late:
        text += " (Late answers count.)"
    if result.shared:
        text += " Your partner will see it in your thread."
    text += " Add a note or change your answer any time with the buttons."
    return text


# --------------------------------------------------------------------------- forms


def _stopped(modal: discord.ui.Modal) -> discord.ui.Modal:
    """A form discord.py keeps no state for: its submission comes back to
    :meth:`Goals.form_submitted` by ``custom_id``, even after a restart."""
    modal.stop()
    return modal


def note_form(checkin_id: int, goal_text: str, current: str | None) -> discord.ui.Modal:
    modal = discord.ui.Modal(title="A note on your check-in", custom_id=g.note_modal_id(checkin_id))
    modal.add_item(
        discord.ui.TextInput(
            label=("Note: " + goal_text)[:45],
            custom_id="note",
            style=discord.TextStyle.paragraph,
            max_length=g.NOTE_MAX,
            required=False,
            default=current,
            placeholder="How it went, what helped, what got in the way…",
        )
    )
    return _stopped(modal)


def feedback_form(checkin_id: int, goal_text: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title="Feedback for your partner", custom_id=g.feedback_modal_id(checkin_id)
    )
    modal.add_item(
        discord.ui.TextInput(
            label=("On: " + goal_text)[:45],
            custom_id="feedback",
            style=discord.TextStyle.paragraph,
            max_length=g.FEEDBACK_MAX,
            placeholder="Encouragement, a question, an idea for next week…",
        )
    )
    return _stopped(modal)


def help_form(goal_id: int, reason: str, goal_text: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title="What would help next time?", custom_id=g.help_modal_id(goal_id, reason)
    )
    modal.add_item(
        discord.ui.TextInput(
            label=("About: " + goal_text)[:45],
            custom_id="help",
            style=discord.TextStyle.paragraph,
            max_length=g.REFLECTION_MAX,
            required=False,
            placeholder="A smaller goal, a different day, asking for help… (optional)",
        )
    )
    return _stopped(modal)


def form_values(data: Mapping[str, Any]) -> dict[str, str]:
    """A modal submission's text values by ``custom_id`` (inputs in action rows or labels)."""
    values: dict[str, str] = {}

    def visit(component: Mapping[str, Any]) -> None:
        if "value" in component and "custom_id" in component:
            values[str(component["custom_id"])] = str(component.get("value") or "")
        for child in component.get("components") or ():
            visit(child)
        inner = component.get("component")
        if isinstance(inner, Mapping):
            visit(inner)

    for top in data.get("components") or ():
        visit(top)
    return values


# --------------------------------------------------------------------------- buttons


class CheckinButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"pairbot:g:ci:(?P<id>\d+):(?P<what>done|partly|missed|note)",
):
    """Done / Partly / Missed / Add a note on a check-in (DM or the pair's thread)."""

    def __init__(self, checkin_id: int, what: str) -> None:
        label = "Add a note" if what == "note" else g.ANSWER_LABELS[what]
        super().__init__(discord.ui.Button(label=label, custom_id=g.answer_id(checkin_id, what)))
        self.checkin_id, self.what = checkin_id, what

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CheckinButton:
        return cls(int(match["id"]), match["what"])

    async def callback(self, interaction: Interaction) -> None:
        try:
            if self.what == "note":
                await note_pressed(interaction, self.checkin_id)
            else:
                await answer_pressed(interaction, self.checkin_id, self.what)
        except Exception as error:
            await report_error(interaction, error)


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"pairbot:g:fb:(?P<id>\d+)",
):
    """ "Give feedback" under a partner's check-in in the pair's thread."""

    def __init__(self, checkin_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Give feedback", custom_id=g.feedback_id(checkin_id))
        )
        self.checkin_id = checkin_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FeedbackButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            bot = _bot(interaction)
            goal_text = await read_before_modal(
                interaction,
                _read(
                    bot,
                    goals.feedback_target,
                    checkin_id=self.checkin_id,
                    from_user_id=interaction.user.id,
                ),
            )
            await interaction.response.send_modal(feedback_form(self.checkin_id, goal_text))
        except Exception as error:
            await report_error(interaction, error)


class WhyButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"pairbot:g:why:(?P<id>\d+)",
):
    """One missed goal in the weekly prompt: opens the choice of reasons."""

    def __init__(self, goal_id: int) -> None:
        super().__init__(discord.ui.Button(label="Why?", custom_id=g.why_id(goal_id)))
        self.goal_id = goal_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> WhyButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            bot = _bot(interaction)
            await thinking(interaction)
            async with unit_of_work(bot.deps.sessions) as session:
                goal = await goals.reflection_goal(
                    session,
                    goal_id=self.goal_id,
                    user_id=interaction.user.id,
                    now=bot.deps.clock.now(),
                )
            view = discord.ui.View(timeout=None)
            view.add_item(ReasonSelect(self.goal_id))
            await send_ephemeral(
                interaction,
                f"What got in the way of **{goal.text}**? No wrong answers: it's for you and "
                "your partner to learn from.",
                view=view,
            )
        except Exception as error:
            await report_error(interaction, error)


class ReasonSelect(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=r"pairbot:g:reason:(?P<id>\d+)",
):
    """The reason for one missed goal: asks what would help (the form must be the first
    response), then saves the reason at once, so that it is kept even if the form is closed.
    The form's submission saves it again with the answer: saving is idempotent."""

    def __init__(self, goal_id: int) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=g.reason_select_id(goal_id),
                placeholder="Pick what got in the way",
                options=[
                    discord.SelectOption(label=label, value=code)
                    for code, label in g.REASONS.items()
                ],
            )
        )
        self.goal_id = goal_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReasonSelect:
        return cls(int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            values = cast(Mapping[str, Any], interaction.data or {}).get("values") or []
            reason = str(values[0]) if values else ""
            bot = _bot(interaction)
            g.parse_reason(reason)  # a forged value is refused before anything else
            goal = await read_before_modal(
                interaction,
                _read(
                    bot,
                    goals.reflection_goal,
                    goal_id=self.goal_id,
                    user_id=interaction.user.id,
                    now=bot.deps.clock.now(),
                ),
            )
            await interaction.response.send_modal(help_form(self.goal_id, reason, goal.text))
        except Exception as error:
            await report_error(interaction, error)
            return
        try:
            async with unit_of_work(bot.deps.sessions) as session:
                await goals.record_reason(
                    session,
                    goal_id=self.goal_id,
                    user_id=interaction.user.id,
                    reason=reason,
                    now=bot.deps.clock.now(),
                )
        except Exception:
            # The form is open and carries the reason: its submission saves it.
            log.warning("a missed goal's reason was not saved yet", exc_info=True)


# --------------------------------------------------------------------------- button handlers


async def answer_pressed(interaction: Interaction, checkin_id: int, answer: str) -> None:
    bot = _bot(interaction)
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        result = await goals.record_answer(
            session,
            checkin_id=checkin_id,
            user_id=interaction.user.id,
            answer=answer,
            now=bot.deps.clock.now(),
        )
    await send_ephemeral(interaction, answer_reply(result))


async def note_pressed(interaction: Interaction, checkin_id: int) -> None:
    bot = _bot(interaction)
    goal_text, current = await read_before_modal(
        interaction,
        _read(bot, goals.checkin_note, checkin_id=checkin_id, user_id=interaction.user.id),
    )
    await interaction.response.send_modal(note_form(checkin_id, goal_text, current))


FormHandler = Callable[[Interaction, re.Match[str], dict[str, str]], Awaitable[None]]


async def note_submitted(
    interaction: Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    bot = _bot(interaction)
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        result = await goals.save_note(
            session,
            checkin_id=int(match["id"]),
            user_id=interaction.user.id,
            note=values.get("note", ""),
            now=bot.deps.clock.now(),
        )
    if not result.note_saved:
        text = "Note cleared."
    elif result.shared:
        text = "📝 Note saved. Your partner will see it with your answer."
    elif result.answer is None:
        text = "📝 Note saved. Pick Done, Partly or Missed too, and your partner will see both."
    else:
        text = "📝 Note saved."
    await send_ephemeral(interaction, text)


async def feedback_submitted(
    interaction: Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    bot = _bot(interaction)
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        await goals.give_feedback(
            session,
            checkin_id=int(match["id"]),
            from_user_id=interaction.user.id,
            text=values.get("feedback", ""),
            now=bot.deps.clock.now(),
        )
    await send_ephemeral(interaction, "💬 Sent! I'll pass it on to your partner.")


async def help_submitted(
    interaction: Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    bot = _bot(interaction)
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        await goals.record_reason(
            session,
            goal_id=int(match["id"]),
            user_id=interaction.user.id,
            reason=match["reason"],
            reflection=values.get("help", ""),
            now=bot.deps.clock.now(),
        )
    await send_ephemeral(
        interaction,
        "🧭 Thanks for looking back honestly. Your partner will see it, and it's first on your "
        "next meeting's agenda.",
    )


FORMS: tuple[tuple[re.Pattern[str], FormHandler], ...] = (
    (re.compile(r"pairbot:g:note:(?P<id>\d+)"), note_submitted),
    (re.compile(r"pairbot:g:fbm:(?P<id>\d+)"), feedback_submitted),
    (re.compile(r"pairbot:g:help:(?P<id>\d+):(?P<reason>[a-z]+)"), help_submitted),
)


# --------------------------------------------------------------------------- the cog


DAY_CHOICES = [
    app_commands.Choice(name="The day before our meeting (default)", value="meeting"),
    *(app_commands.Choice(name=name, value=name) for name in g.DAY_NAMES),
]
WEEK_CHOICES = [
    app_commands.Choice(name="This week", value="this"),
    app_commands.Choice(name="Next week", value="next"),
]


class Goals(commands.Cog):
    goal = app_commands.Group(
        name="goal", description="Your goals, shared with your partner", guild_only=True
    )
    checkin = app_commands.Group(
        name="checkin", description="When I ask how your goals are going", guild_only=True
    )

    def __init__(self, bot: PairBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CheckinButton, FeedbackButton, WhyButton, ReasonSelect)
        add_form_route(self.bot, [pattern for pattern, _ in FORMS], self.form_submitted)
        for kind, handler in goals.due_work_handlers(self.bot.deps.clock).items():
            self.bot.dispatcher.register(kind, handler)
        self.bot.deps.ticker.add_handler("goals-schedule", self.upkeep)

    async def upkeep(self) -> None:
        """Every tick: one bounded chunk of the safety sweep (``goals.sweep_chunk``), in its
        own short transaction; its position is stored, so a pass over every member spreads over
        many ticks (the first tick after start-up included) and rests between passes. Planning
        itself is event-driven (``goals.plan_member``), so this finds nothing while all is
        well."""
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            # The cursor row is locked on PostgreSQL: two processes take turns, chunk by chunk.
            chunk = await goals.sweep_chunk(session, now=now)
        if chunk.replanned:
            log.warning("goals: %d members re-planned by the safety sweep", len(chunk.replanned))

    async def form_submitted(self, interaction: Interaction) -> None:
        """Form submissions, routed by ``custom_id`` (see the module docstring)."""
        data = cast(Mapping[str, Any], interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        for pattern, handler in FORMS:
            match = pattern.fullmatch(custom_id)
            if match:
                try:
                    await handler(interaction, match, form_values(data))
                except Exception as error:
                    await report_error(interaction, error)
                return

    # ----------------------------------------------------------------------- /goal

    @goal.command(name="add", description="Add a goal: one concrete thing, due this week or later")
    @app_commands.describe(
        text="One concrete thing you'll do, e.g. 'write 2,000 words'",
        due="next meeting (the default with a meeting time), this week, next week, or a date "
        "like 2026-03-14",
        area="Optional goal area",
    )
    async def add(
        self,
        interaction: Interaction,
        text: app_commands.Range[str, 1, g.GOAL_TEXT_MAX],
        due: str | None = None,
        area: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            goal = await goals.add_goal(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                text=text,
                due=due,
                area=area,
                now=now,
                display_name=interaction.user.display_name,
            )
            board = await goals.list_goals(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
            # The member is here: if their DMs were marked closed, try them again.
            await outbox.clear_dms_closed(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
        lines = [f"🎯 Goal added: **{goal.text}**, {due_words(goal, board)}."]
        lines.append("Your partner can see it with `/goal list`. " + checkin_words(goal))
        if not board.zone_known:
            lines.append("Your time zone isn't set, so I'm using UTC: set it with `/profile edit`.")
        await send_ephemeral(interaction, "\n".join(lines))

    @add.autocomplete("due")
    async def due_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._due_choices(interaction, current)

    async def _due_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            board = await goals.list_goals(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
        has_meeting = await self._has_meeting(interaction)
        return [
            app_commands.Choice(name=label, value=value)
            for label, value in g.due_suggestions(board.today, current, has_meeting=has_meeting)
        ]

    async def _has_meeting(self, interaction: Interaction) -> bool:
        assert interaction.guild_id is not None
        async with unit_of_work(self.bot.deps.sessions) as session:
            return await goals.has_meeting(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id
            )

    @add.autocomplete("area")
    async def area_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._area_choices(interaction, current)

    async def _area_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        areas = await self.bot.access.goal_areas(interaction.guild_id)
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=a[:100], value=a[:100]) for a in areas if needle in a.lower()
        ][:25]

    @goal.command(name="list", description="Your goals and your partner's, with their status")
    async def list_(self, interaction: Interaction) -> None:
        board = await _for_member(self.bot, interaction, goals.list_goals)
        await send_ephemeral(
            interaction, "📋 Goals (dates show in your own time):", embeds=board_embeds(board)
        )

    async def _goal_choices(
        self, interaction: Interaction, current: str, *, recent_misses: bool = False
    ) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        async with unit_of_work(self.bot.deps.sessions) as session:
            found = await goals.goal_choices(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=self.bot.deps.clock.now(),
                typed=current,
                recent_misses=recent_misses,
            )
        return [
            app_commands.Choice(
                name=(f"{g.STATUS_ICONS[goal.status]} {goal.text}")[:100], value=str(goal.id)
            )
            for goal in found
        ]

    @goal.command(name="done", description="Mark one of your goals done")
    @app_commands.describe(goal="Pick one of your goals")
    async def done(self, interaction: Interaction, goal: str) -> None:
        view = await _for_member(self.bot, interaction, goals.complete_goal, goal_ref=goal)
        await send_ephemeral(
            interaction, f"✅ **{view.text}**: done! Nice work. Your partner will see it. 🎉"
        )

    @done.autocomplete("goal")
    async def done_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._goal_choices(interaction, current, recent_misses=True)

    @goal.command(name="edit", description="Change one of your open goals")
    @app_commands.describe(
        goal="Pick one of your open goals",
        text="The new wording",
        due="this week, next week, or a date like 2026-03-14",
        area="The goal area",
    )
    async def edit(
        self,
        interaction: Interaction,
        goal: str,
        text: app_commands.Range[str, 1, g.GOAL_TEXT_MAX] | None = None,
        due: str | None = None,
        area: str | None = None,
    ) -> None:
        view = await _for_member(
            self.bot, interaction, goals.edit_goal, goal_ref=goal, text=text, due=due, area=area
        )
        text_due = (
            f"due {ts(view.deadline, 'F')}, before your next meeting ({ts(view.meeting_at, 'F')})"
            if view.meeting_at is not None
            else f"due {ts(view.deadline, 'F')}"
        )
        await send_ephemeral(
            interaction, f"✏️ Updated: **{view.text}**, {text_due}. " + checkin_words(view)
        )

    @edit.autocomplete("goal")
    async def edit_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._goal_choices(interaction, current)

    @edit.autocomplete("due")
    async def edit_due_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._due_choices(interaction, current)

    @edit.autocomplete("area")
    async def edit_area_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._area_choices(interaction, current)

    @goal.command(name="drop", description="Let go of a goal (it won't count as missed)")
    @app_commands.describe(goal="Pick one of your open goals")
    async def drop(self, interaction: Interaction, goal: str) -> None:
        view = await _for_member(self.bot, interaction, goals.drop_goal, goal_ref=goal)
        await send_ephemeral(
            interaction,
            f"➖ Dropped **{view.text}**. Changing plans is fine: no more check-ins on it.",
        )

    @drop.autocomplete("goal")
    async def drop_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._goal_choices(interaction, current)

    # ----------------------------------------------------------------------- /checkin

    @checkin.command(name="time", description="Choose when I check in with you (your time)")
    @app_commands.describe(
        day="Which day (default: the day before your meeting)",
        time="24-hour time like 18:30 (your time zone)",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def time(
        self,
        interaction: Interaction,
        day: app_commands.Choice[str],
        time: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            setting = await goals.set_checkin_time(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                weekday=None if day.value == "meeting" else day.value,
                time=time,
                now=now,
            )
            # The member is here: if their DMs were marked closed, try them again.
            await outbox.clear_dms_closed(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
        await send_ephemeral(
            interaction,
            f"⏰ Check-ins: {setting.description}. The next one is {ts(setting.next_at, 'F')} "
            f"({ts(setting.next_at, 'R')}).",
        )

    @checkin.command(name="snooze", description="Take a week off: no check-ins or prompts")
    @app_commands.describe(week="Which week", undo="Un-snooze that week")
    @app_commands.choices(week=WEEK_CHOICES)
    async def snooze(
        self,
        interaction: Interaction,
        week: app_commands.Choice[str],
        undo: bool = False,
    ) -> None:
        result = await _for_member(self.bot, interaction, goals.snooze, week=week.value, undo=undo)
        span = f"{ts(result.starts_at, 'D')} – {ts(result.ends_at - timedelta(minutes=1), 'D')}"
        if result.undone:
            text = f"Welcome back! Check-ins are on again for the week of {span}."
        else:
            text = (
                f"🏖️ Snoozed the week of {span}: no check-ins and no weekly prompt, and your "
                "streak stays unbroken. Enjoy the break!"
            )
        await send_ephemeral(interaction, text)

    @app_commands.command(name="stats", description="Your streak, completion and patterns")
    @app_commands.guild_only()
    async def stats(self, interaction: Interaction) -> None:
        found = await _for_member(self.bot, interaction, goals.stats_for)
        if found is None:
            await send_ephemeral(
                interaction,
                "No goals yet, so no stats yet. Add one with `/goal add` and your weeks will "
                "show up here. 🌱",
            )
            return
        picture = discord.File(io.BytesIO(weekly_chart(found.weeks)), filename="my-weeks.png")
        await send_ephemeral(interaction, found.render(), file=picture)


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Goals(bot))
