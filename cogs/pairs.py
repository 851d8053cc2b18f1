"""``/pair`` and ``/report``: a partnership from proposal to parting. Thin glue over
``bot.services.partnerships``; the private space is ``bot.spaces``.

Buttons that live in old messages (proposal, end of trial, "did you meet?", the quiet-partner
question) are ``DynamicItem``s whose ``custom_id`` carries what the click needs, so they work
after a restart. Every reply is ephemeral; news for the pair goes through the outbox, which is
run soon after a change (``_kick``) so the other partner hears of it without waiting a tick.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import spaces
from bot.app import PairBot
from bot.db import unit_of_work
from bot.domain import partnership as d
from bot.interactions import (
    BaseModal,
    OwnedView,
    report_error,
    send_ephemeral,
    thinking,
    update_message,
)
from bot.services import departures, partnerships
from bot.services.outbox import DueWork
from bot.services.partnerships import PairStatus
from bot.services.ports import MemberGone

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

DAY_CHOICES = [app_commands.Choice(name=name, value=i) for i, name in enumerate(d.DAY_NAMES)]
RHYTHM_CHOICES = [
    app_commands.Choice(name="every week", value=1),
    app_commands.Choice(name="every two weeks", value=2),
]


def _bot(interaction: Interaction) -> PairBot:
    assert isinstance(interaction.client, PairBot)
    return interaction.client


def _kick(bot: PairBot) -> None:
    """Send what a change just enqueued (news for the partner) soon rather than on the next
    interval tick; durable either way, the rows are already stored."""
    bot.deps.ticker.kick()


# --------------------------------------------------------------------------- buttons


def _button(label: str, custom_id: str, style: discord.ButtonStyle) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=label, custom_id=custom_id, style=style)


class ProposalButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=d.PROPOSAL_ID_RE
):
    """Accept / Decline under a proposal (the pair's thread, their DMs, or ``/pair status``)."""

    def __init__(self, verb: str, partnership_id: int) -> None:
        accept = verb == "accept"
        super().__init__(
            _button(
                "Accept" if accept else "Decline",
                d.proposal_button_id("accept" if accept else "decline", partnership_id),
                discord.ButtonStyle.success if accept else discord.ButtonStyle.secondary,
            )
        )
        self.verb, self.partnership_id = verb, partnership_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ProposalButton:
        return cls(match["verb"], int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            if self.verb == "decline":
                await interaction.response.send_modal(DeclineModal(self.partnership_id))
                return
            await decide_pressed(interaction, self.partnership_id, accept=True, reason=None)
        except Exception as error:
            await report_error(interaction, error)


class TrialButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=d.TRIAL_ID_RE
):
    """Continue together / Part ways kindly, at the end of the trial (a private choice)."""

    def __init__(self, verb: str, partnership_id: int) -> None:
        carry_on = verb == "continue"
        super().__init__(
            _button(
                "Continue together" if carry_on else "Part ways kindly",
                d.trial_button_id("continue" if carry_on else "part", partnership_id),
                discord.ButtonStyle.success if carry_on else discord.ButtonStyle.secondary,
            )
        )
        self.verb, self.partnership_id = verb, partnership_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> TrialButton:
        return cls(match["verb"], int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            bot = _bot(interaction)
            async with unit_of_work(bot.deps.sessions) as session:
                result = await partnerships.choose_trial(
                    session,
                    partnership_id=self.partnership_id,
                    user_id=interaction.user.id,
                    choice=self.verb,
                    now=bot.deps.clock.now(),
                )
            texts = {
                "continue": "🌟 You're both in: a full partnership from today!",
                "part": "Thank you for giving it a go. The partnership has ended kindly; "
                "join the pool again whenever you like with `/partner find`. 🌱",
                "pending": "Thanks, noted privately. I'll let you know once everyone has chosen.",
            }
            await send_ephemeral(interaction, texts[result.outcome])
            _kick(bot)
        except Exception as error:
            await report_error(interaction, error)


MET_LABELS = {"yes": "Yes, we met", "rescheduled": "We rescheduled", "no": "No"}


class MetButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=d.MET_ID_RE):
    """Yes / Rescheduled / No after a meeting."""

    def __init__(self, verb: str, meeting_id: int) -> None:
        answer: d.Answer = "yes" if verb == "yes" else "no"
        if verb == "rescheduled":
            answer = "rescheduled"
        style = discord.ButtonStyle.success if answer == "yes" else discord.ButtonStyle.secondary
        super().__init__(_button(MET_LABELS[answer], d.met_button_id(answer, meeting_id), style))
        self.answer, self.meeting_id = answer, meeting_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MetButton:
        return cls(match["verb"], int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            bot = _bot(interaction)
            async with unit_of_work(bot.deps.sessions) as session:
                result = await partnerships.answer_meeting(
                    session,
                    meeting_id=self.meeting_id,
                    user_id=interaction.user.id,
                    answer=self.answer,
                    now=bot.deps.clock.now(),
                )
            if result.answer == "yes":
                streak = f" That's {result.streak} met in a row! 🔥" if result.streak > 1 else ""
                text = f"Great, noted: you met.{streak}"
            elif result.answer == "rescheduled":
                text = "Noted: rescheduled. Your streak stays as it is."
            else:
                text = "Noted. Missing one happens: what would make the next one easier?"
            await send_ephemeral(interaction, text)
        except Exception as error:
            await report_error(interaction, error)


class QuietButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=d.QUIET_ID_RE
):
    """Keep waiting / Find me someone new, when a partner has gone quiet."""

    def __init__(self, verb: str, partnership_id: int) -> None:
        wait = verb == "wait"
        super().__init__(
            _button(
                "Keep waiting" if wait else "Find me someone new",
                d.quiet_button_id("wait" if wait else "rematch", partnership_id),
                discord.ButtonStyle.secondary if wait else discord.ButtonStyle.primary,
            )
        )
        self.verb, self.partnership_id = verb, partnership_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QuietButton:
        return cls(match["verb"], int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            bot = _bot(interaction)
            async with unit_of_work(bot.deps.sessions) as session:
                result = await partnerships.answer_quiet(
                    session,
                    partnership_id=self.partnership_id,
                    user_id=interaction.user.id,
                    rematch=self.verb == "rematch",
                    now=bot.deps.clock.now(),
                )
            if result.rematch:
                text = (
                    "Done: the partnership has ended kindly and you're back in the pool with "
                    "priority, a head start in the next round. 🌱"
                )
            else:
                text = "Okay, we'll keep waiting. I'll check in with you again if it stays quiet."
            await send_ephemeral(interaction, text)
            _kick(bot)
        except Exception as error:
            await report_error(interaction, error)


def proposal_view(partnership_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ProposalButton("accept", partnership_id))
    view.add_item(ProposalButton("decline", partnership_id))
    return view


# --------------------------------------------------------------------------- modals


class DeclineModal(BaseModal, title="Decline this proposal"):
    reason: discord.ui.TextInput[DeclineModal] = discord.ui.TextInput(
        label="Why? (optional, private)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=partnerships.REASON_MAX,
        placeholder="Only stored for you. Nobody else ever sees it.",
    )

    def __init__(self, partnership_id: int) -> None:
        super().__init__(custom_id=f"pairbot:prop:why:{partnership_id}")
        self.partnership_id = partnership_id

    async def on_submit(self, interaction: Interaction) -> None:
        await decide_pressed(
            interaction, self.partnership_id, accept=False, reason=self.reason.value or None
        )


class EndModal(BaseModal, title="End your partnership"):
    reason: discord.ui.TextInput[EndModal] = discord.ui.TextInput(
        label="Why? (optional, private)",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=partnerships.REASON_MAX,
        placeholder="Only stored for you. Your partner is told kindly, without any reason.",
    )

    async def on_submit(self, interaction: Interaction) -> None:
        bot = _bot(interaction)
        assert interaction.guild_id is not None
        async with unit_of_work(bot.deps.sessions) as session:
            result = await partnerships.end_partnership(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                reason=self.reason.value or None,
                now=bot.deps.clock.now(),
            )
        if result.was == "proposed":
            text = "You've declined the proposal. You're back in the pool with priority. 🌱"
        else:
            text = (
                "Your partnership has ended. Thank you for the time you gave it. Join the pool "
                "again whenever you like with `/partner find`. 🌱"
            )
        await send_ephemeral(interaction, text)
        _kick(bot)


class ReportModal(BaseModal, title="Report to the moderators"):
    what: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(
        label="What happened?",
        style=discord.TextStyle.paragraph,
        required=True,
        max_length=partnerships.REPORT_MAX,
        placeholder="The moderators see this, who it's about, and your partnership's thread.",
    )

    def __init__(self, reported_user_id: int | None) -> None:
        super().__init__()
        self.reported_user_id = reported_user_id

    async def on_submit(self, interaction: Interaction) -> None:
        bot = _bot(interaction)
        assert interaction.guild_id is not None
        async with unit_of_work(bot.deps.sessions) as session:
            result = await partnerships.file_report(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                reported_user_id=self.reported_user_id,
                text=self.what.value,
                now=bot.deps.clock.now(),
            )
        if result.sent_to_moderators:
            text = "Thank you. The moderators have your report and will look at it. 🛡️"
        else:
            text = (
                "Thank you, your report is saved. This server hasn't chosen a moderators' "
                "channel yet, so please also reach out to a moderator directly."
            )
        await send_ephemeral(interaction, text)
        _kick(bot)


class BlockConfirm(OwnedView):
    def __init__(self, owner_id: int, other_user_id: int | None) -> None:
        super().__init__(owner_id)
        self.other_user_id = other_user_id

    @discord.ui.button(
        label="Block", style=discord.ButtonStyle.danger, custom_id="pairbot:confirm:block"
    )
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        bot = _bot(interaction)
        assert interaction.guild_id is not None
        async with unit_of_work(bot.deps.sessions) as session:
            result = await partnerships.block(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                other_user_id=self.other_user_id,
                now=bot.deps.clock.now(),
            )
        text = f"Blocked. You'll never be matched with <@{result.blocked_user_id}> again."
        if result.ended_partnership:
            text += " Your partnership has ended; they're told it ended, not why."
        text += " Nobody else will know."
        self.stop()
        await update_message(interaction, content=text, view=None)
        _kick(bot)

    @discord.ui.button(
        label="Cancel", style=discord.ButtonStyle.secondary, custom_id="pairbot:confirm:cancel"
    )
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await update_message(interaction, content="Okay, nothing changed.", view=None)


# --------------------------------------------------------------------------- shared glue


async def decide_pressed(
    interaction: Interaction, partnership_id: int, *, accept: bool, reason: str | None
) -> None:
    bot = _bot(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        decision = await partnerships.decide(
            session,
            partnership_id=partnership_id,
            user_id=interaction.user.id,
            accept=accept,
            reason=reason,
            now=bot.deps.clock.now(),
        )
    if decision.outcome == "trial":
        assert decision.trial_ends_at is not None
        text = (
            f"🎉 You're partners! Your trial runs until {d.ts(decision.trial_ends_at, 'D')}. "
            "Agree a weekly time together with `/pair meeting`."
        )
    elif decision.outcome == "waiting":
        text = "✅ Accepted! I'll let you know as soon as the other answer is in."
    else:
        text = (
            "You've declined, and that's fine. Any reason you gave stays private. You're "
            "back in the pool with priority. 🌱"
        )
    await send_ephemeral(interaction, text)
    _kick(bot)


def render_status(view: PairStatus) -> str:
    """The member's own view of their partnership (ephemeral)."""
    partners = ", ".join(f"<@{u}>" for u in view.partners)
    lines: list[str] = []
    if view.state is None:
        lines.append("You don't have a partner right now. Join the pool with `/partner find`.")
    elif view.state == "proposed":
        assert view.expires_at is not None
        answer = {True: "you've accepted", False: "you've declined", None: "waiting for you"}[
            view.my_answer
        ]
        lines.append(
            f"**A proposal with {partners}** is open until {d.ts(view.expires_at, 'F')} ({answer})."
        )
    else:
        assert view.since is not None
        if view.state == "trial" and view.trial_over:
            chosen = "you've chosen" if view.trial_choice else "please choose (see your DMs)"
            lines.append(
                f"**Partners with {partners}** since {d.ts(view.since, 'D')}: the trial is "
                f"over, time to choose whether to carry on ({chosen})."
            )
        elif view.state == "trial":
            assert view.trial_ends_at is not None
            lines.append(
                f"**Partners with {partners}** since {d.ts(view.since, 'D')}: trial period "
                f"until {d.ts(view.trial_ends_at, 'D')}."
            )
        else:
            lines.append(f"**Partners with {partners}** since {d.ts(view.since, 'D')}. 🌟")
        if view.recurrence is not None and view.next_meeting is not None:
            rec = view.recurrence
            lines.append(
                f"📅 Meeting {d.every(rec.interval_weeks)}, {view.minutes} min: "
                f"next {d.ts(view.next_meeting, 'F')} ({d.ts(view.next_meeting, 'R')}). "
                f"Agreed as {d.DAY_NAMES[rec.weekday]} {rec.time:%H:%M} {rec.zone}; "
                f"reminder {view.reminder_minutes} min before."
            )
        else:
            lines.append("📅 No meeting time yet: agree one with `/pair meeting`.")
        lines.append(f"🔥 Streak: {view.streak} met in a row · {view.met} met in all.")
    if view.thread_id is not None and view.state is not None:
        lines.append(f"Your private space: <#{view.thread_id}>")
    if view.history:
        past = [
            ", ".join(f"<@{u}>" for u in p.user_ids)
            + f" ({d.ts(p.started_at, 'D')} – {d.ts(p.ended_at, 'D') if p.ended_at else '…'})"
            for p in view.history[:5]
        ]
        lines.append("Past partners: " + "; ".join(past))
    return "\n".join(lines)


# --------------------------------------------------------------------------- the cog


@app_commands.guild_only()
class Pairs(commands.GroupCog, group_name="pair", group_description="Your partnership"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ProposalButton, TrialButton, MetButton, QuietButton)
        for kind, handler in partnerships.work_handlers(self.bot.deps.clock).items():
            self.bot.dispatcher.register(kind, handler)
        self.bot.dispatcher.register(partnerships.SPACE_OPEN.kind, self._open_space)
        self.bot.dispatcher.register(partnerships.SPACE_CLOSE.kind, self._close_space)

    async def _open_space(self, session: Any, work: DueWork) -> None:
        """Outbox work: open a proposal's private space. The card is read in its own short
        transaction so that no write lock is held while Discord answers."""
        pid = int(work.payload["partnership_id"])
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as reading:
            card = await partnerships.proposal_card(reading, partnership_id=pid, now=now)
        if card is None:
            return
        view = proposal_view(pid) if card.needs_answer else None
        try:
            space = await spaces.open_space(
                self.bot,
                card,
                view,
                pace=spaces.send_pace(self.bot),
                still_member=self.bot.dispatcher.membership,
            )
        except MemberGone as gone:
            # Found out here, it ends the proposal like any departure (services.departures).
            await departures.member_left(
                session, guild_id=card.guild_id, user_id=gone.user_id, now=now
            )
            self.bot.access.departed(card.guild_id, gone.user_id)
            return
        await partnerships.record_space(
            session, partnership_id=pid, thread_id=space.thread_id, now=now
        )

    async def _close_space(self, session: Any, work: DueWork) -> None:
        await spaces.close_space(
            self.bot,
            thread_id=int(work.payload["thread_id"]),
            text=str(work.payload.get("text") or d.space_closed_text()),
            key=work.key,
        )

    @app_commands.command(name="status", description="Your partner, meeting time and streak")
    async def status(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        async with unit_of_work(self.bot.deps.sessions) as session:
            view = await partnerships.status(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=self.bot.deps.clock.now(),
            )
        buttons = (
            proposal_view(view.partnership_id)
            if view.state == "proposed" and view.my_answer is None and view.partnership_id
            else None
        )
        if buttons is None:
            await send_ephemeral(interaction, render_status(view))
        else:
            await send_ephemeral(interaction, render_status(view), view=buttons)

    @app_commands.command(name="meeting", description="Agree (or change) your regular meeting")
    @app_commands.describe(
        day="The day, in the chosen time zone",
        time="The time of day, like 18:30 or 6:30pm",
        zone="Whose time zone the day and time are in: yours or your partner's",
        rhythm="How often you meet",
        length="How long the meeting lasts, in minutes",
        reminder="How many minutes before the meeting I remind you",
    )
    @app_commands.choices(day=DAY_CHOICES, rhythm=RHYTHM_CHOICES)
    async def meeting(
        self,
        interaction: Interaction,
        day: app_commands.Choice[int],
        time: app_commands.Range[str, 1, 16],
        zone: app_commands.Range[str, 1, 64],
        rhythm: app_commands.Choice[int] | None = None,
        length: app_commands.Range[int, d.MEETING_MINUTES_MIN, d.MEETING_MINUTES_MAX] | None = None,
        reminder: app_commands.Range[int, d.REMINDER_MINUTES_MIN, d.REMINDER_MINUTES_MAX]
        | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        async with unit_of_work(self.bot.deps.sessions) as session:
            plan = await partnerships.set_meeting(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                weekday=day.value,
                time_text=time,
                zone=zone,
                interval_weeks=rhythm.value if rhythm else None,
                minutes=length,
                reminder_minutes=reminder,
                now=self.bot.deps.clock.now(),
            )
        rec = plan.recurrence
        every = d.every(rec.interval_weeks)
        zones = "; ".join(f"{zone}: {when}" for zone, when in plan.in_zones)
        verb = "moved" if plan.changed else "set"
        await send_ephemeral(
            interaction,
            f"📅 Meeting {verb}: {every}, {plan.minutes} min, first on {d.ts(plan.first, 'F')} "
            f"({d.ts(plan.first, 'R')}). That's {zones}. I'll remind you "
            f"{plan.reminder_minutes} min before, and ask afterwards whether you met. "
            "Your partner has been told.",
        )
        _kick(self.bot)

    @meeting.autocomplete("zone")
    async def _zone_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        async with unit_of_work(self.bot.deps.sessions) as session:
            zones = await partnerships.partner_zones(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id
            )
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=zone, value=zone) for zone in zones if typed in zone.lower()
        ][:25]

    @app_commands.command(name="end", description="End your partnership, kindly")
    async def end(self, interaction: Interaction) -> None:
        await interaction.response.send_modal(EndModal())

    @app_commands.command(name="block", description="Never be matched with someone again")
    @app_commands.describe(member="Who to block (your partner if you leave this out)")
    async def block(self, interaction: Interaction, member: discord.Member | None = None) -> None:
        who = f"<@{member.id}>" if member is not None else "your partner"
        await send_ephemeral(
            interaction,
            f"Block {who}? You'll never be matched again, and if you're partners it ends now. "
            "They're told only that it ended: never that you blocked them.",
            view=BlockConfirm(interaction.user.id, member.id if member else None),
        )


@app_commands.command(name="report", description="Tell the moderators about a problem, privately")
@app_commands.describe(member="Who it's about (your partner if you leave this out)")
@app_commands.guild_only()
async def report(interaction: Interaction, member: discord.Member | None = None) -> None:
    await interaction.response.send_modal(ReportModal(member.id if member else None))


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Pairs(bot))
    bot.tree.add_command(report)


async def teardown(bot: PairBot) -> None:
    bot.tree.remove_command("report")
