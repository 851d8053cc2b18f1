"""``/admin ...``: moderators' commands. Every subcommand of this cog is refused by
:meth:`Admin.interaction_check` unless the member really is a moderator (Manage Server, or the
community's moderator role): ``default_permissions`` is only a hint a server admin can change.

To add a subcommand, add an ``@app_commands.command`` method to :class:`Admin`; the check applies
to it (and to any subgroup) without further work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import AccessCache
from bot.app import PairBot
from bot.db import unit_of_work
from bot.domain import community
from bot.domain.timezones import ts
from bot.interactions import send_ephemeral, thinking
from bot.services import guilds, insights, matching, outbox
from bot.services.matching import RoundReport
from bot.services.outbox import DueWork, ScheduleEntry
from bot.services.ports import CONTENT_LIMIT

log = logging.getLogger(__name__)

FAILURE_WINDOW = timedelta(days=7)
SHOWN = 10


def has_manage_server(interaction: discord.Interaction[Any]) -> bool:
    """Discord computes the member's permissions server-side and sends them with the interaction."""
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_guild


async def is_moderator(interaction: discord.Interaction[Any], *, access: AccessCache) -> bool:
    """Manage Server, or the role the community named as its moderators in ``/admin setup``
    (read from the access cache, after the interaction was deferred)."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    if has_manage_server(interaction):
        return True
    role_id = await access.moderator_role(interaction.guild_id)
    return role_id is not None and interaction.user.get_role(role_id) is not None


def _channel(channel_id: int | None) -> str:
    return f"<#{channel_id}>" if channel_id else "not set"


def stamp(moment: datetime) -> str:
    """A time every moderator reads in their own zone: Discord renders these client-side."""
    return f"{ts(moment, 'f')} ({ts(moment, 'R')})"


def target(entry: ScheduleEntry) -> str:
    if entry.user_id is not None:
        return f"<@{entry.user_id}>"
    if entry.channel_id is not None:
        return f"<#{entry.channel_id}>"
    return "the community"


KIND_WORDS: dict[str, str] = {
    "meeting_reminder": "Meeting reminder",
    "meeting_prep": "Preparing a meeting's agenda",
    "meeting_check": "Asking “did you meet?”",
    "checkin": "Goal check-in",
    "checkin_plan": "Planning goal check-ins",
    "checkin_shared": "Check-in shared with a partner",
    "goal_review": "Closing a week's goals",
    "goal_feedback": "A partner's feedback",
    "reflection_shared": "Missed-goal reflection shared",
    "weekly_prompt": "Weekly missed-goal prompt",
    "notice": "Message",
    "match_round": "Matching round",
    "proposal_expiry": "Proposal expiry",
    "trial_choice": "End-of-trial question",
    "pair_upkeep": "Pair upkeep (meetings, quiet partners)",
    "space_open": "Opening a pair's private space",
    "space_close": "Closing a pair's private space",
    "quiet_partner": "Quiet-partner question",
    "mod_report": "Report to moderators",
    "post_delete": "Removing a forum post",
    "post_sync": "Updating a forum post",
}
"""Each kind of scheduled work in words a moderator understands (a test checks every declared
kind has its words)."""


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind) or kind.replace("_", " ").capitalize()


def due_line(entry: ScheduleEntry) -> str:
    line = f"• {kind_words(entry.kind)} → {target(entry)} · {stamp(entry.due_at)}"
    if entry.state == "claimed":
        line += " · sending now"
    elif entry.attempt:
        line += f" · retry {entry.attempt + 1} {stamp(entry.next_attempt_at)}"
    return line


def failure_line(entry: ScheduleEntry) -> str:
    when = entry.finished_at or entry.due_at
    return (
        f"• {kind_words(entry.kind)} → {target(entry)} · {entry.state} {stamp(when)}: "
        f"{entry.reason or '-'}"
    )


def render_schedule(
    *,
    due: Sequence[ScheduleEntry],
    failures: Sequence[ScheduleEntry],
    counts: dict[str, int],
) -> str:
    """The ``/admin schedule`` reply: what kind of work (in words), targets and times only,
    never message text."""
    waiting = counts.get("pending", 0) + counts.get("claimed", 0)
    summary = " · ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "nothing yet"
    lines = [f"**Scheduled work** ({summary})", "", f"**Due next** ({waiting} waiting)"]
    lines += [due_line(e) for e in due] or ["• nothing is waiting"]
    if waiting > len(due):
        lines.append(f"• …and {waiting - len(due)} more")
    lines += ["", "**Failed or expired in the last 7 days**"]
    lines += [failure_line(e) for e in failures] or ["• nothing failed"]
    text = "\n".join(lines)
    while len(text) > CONTENT_LIMIT and len(lines) > 3:
        lines.pop(-1)
        text = "\n".join([*lines, "• …"])
    return text


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="admin", group_description="Moderator tools"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await is_moderator(interaction, access=self.bot.access)

    @app_commands.command(name="setup", description="Set up pairbot for this server")
    @app_commands.describe(
        forum="The forum channel where members post that they're looking for a partner",
        pairs_channel="Where private threads for new pairs are opened",
        mod_channel="Where reports reach the moderators",
        goal_areas="Comma-separated goal areas members choose from",
        access_role="Only members with this role may use pairbot (empty: everyone)",
        moderator_role="Members with this role may use /admin commands",
        match_day="Day of the weekly matching round",
        match_time="Time of the matching round, HH:MM in UTC",
        odd_policy="When one member is left over: a trio, or carry them over with priority",
    )
    @app_commands.choices(
        odd_policy=[
            app_commands.Choice(name="make a trio", value="trio"),
            app_commands.Choice(name="carry over to the next round", value="carry_over"),
        ]
    )
    async def setup_command(
        self,
        interaction: discord.Interaction[PairBot],
        forum: discord.ForumChannel | None = None,
        pairs_channel: discord.TextChannel | None = None,
        mod_channel: discord.TextChannel | None = None,
        goal_areas: str | None = None,
        access_role: discord.Role | None = None,
        moderator_role: discord.Role | None = None,
        match_day: str | None = None,
        match_time: str | None = None,
        odd_policy: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        areas = community.parse_goal_area_list(goal_areas) if goal_areas else None
        weekday = community.parse_weekday(match_day) if match_day else None
        at = community.parse_utc_time(match_time) if match_time else None
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            settings = await guilds.configure(
                session,
                guild_id=interaction.guild_id,
                now=now,
                forum_channel_id=forum.id if forum else None,
                pair_channel_id=pairs_channel.id if pairs_channel else None,
                mod_channel_id=mod_channel.id if mod_channel else None,
                access_role_id=access_role.id if access_role else None,
                moderator_role_id=moderator_role.id if moderator_role else None,
                goal_areas=areas,
                match_weekday=weekday,
                match_time_utc=at,
                odd_policy=odd_policy,
            )
            await outbox.cancel_pending(
                session, kind=matching.ROUND_KIND, target=interaction.guild_id
            )
            next_round = await matching.schedule_next_round(
                session, guild_id=interaction.guild_id, now=now
            )
            summary = (
                f"Forum: {_channel(settings.forum_channel_id)} · pairs: "
                f"{_channel(settings.pair_channel_id)} · reports: "
                f"{_channel(settings.mod_channel_id)}\n"
                f"Goal areas: {', '.join(settings.goal_areas)}\n"
                f"Matching: every {community.WEEKDAYS[settings.match_weekday].title()} "
                f"{settings.match_time_utc} UTC, next {stamp(next_round)}; odd one out: "
                f"{settings.odd_policy.replace('_', ' ')}"
            )
        self.bot.access.forget(interaction.guild_id)
        problems = missing_permissions(forum, REQUIRED_FORUM) + missing_permissions(
            pairs_channel, REQUIRED_PAIRS
        )
        text = "Saved. ✅\n" + summary
        if problems:
            text += (
                "\n⚠️ I'm missing these permissions there: "
                + ", ".join(sorted(set(problems)))
                + ". Please grant them so I can post."
            )
        await send_ephemeral(interaction, text)

    @app_commands.command(name="match-now", description="Run a matching round now")
    @app_commands.describe(dry_run="Only show the proposed pairs; change nothing")
    async def match_now(
        self, interaction: discord.Interaction[PairBot], dry_run: bool = True
    ) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        report = await matching.run_round(
            self.bot.deps.sessions,
            guild_id=interaction.guild_id,
            now=self.bot.deps.clock.now(),
            trigger="moderator",
            dry_run=dry_run,
        )
        if not dry_run:
            self.bot.deps.ticker.kick()  # proposals and notices go out through the outbox
        await send_ephemeral(interaction, render_round(report, dry_run=dry_run))

    @app_commands.command(name="schedule", description="What is due next and what failed lately")
    async def schedule(self, interaction: discord.Interaction[PairBot]) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            due = await outbox.due_next(session, guild_id=interaction.guild_id, limit=SHOWN)
            failures = await outbox.recent_failures(
                session, guild_id=interaction.guild_id, since=now - FAILURE_WINDOW, limit=SHOWN
            )
            counts = await outbox.state_counts(session, guild_id=interaction.guild_id)
        await send_ephemeral(
            interaction, render_schedule(due=due, failures=failures, counts=counts)
        )

    @app_commands.command(name="stats", description="Pool, pairs, health and check-in rates")
    async def stats(self, interaction: discord.Interaction[PairBot]) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        async with unit_of_work(self.bot.deps.sessions) as session:
            found = await insights.community_stats(
                session, guild_id=interaction.guild_id, now=self.bot.deps.clock.now()
            )
            waits = await matching.long_waits(session, guild_id=interaction.guild_id)
        await send_ephemeral(interaction, found.render() + "\n" + render_waits(waits))


REQUIRED_FORUM = ("view_channel", "send_messages", "create_public_threads", "manage_threads")
REQUIRED_PAIRS = ("view_channel", "create_private_threads", "send_messages_in_threads")


def missing_permissions(
    channel: discord.abc.GuildChannel | None, names: tuple[str, ...]
) -> list[str]:
    """Which of ``names`` the bot lacks in ``channel`` (checked, not assumed)."""
    if channel is None:
        return []
    mine = channel.permissions_for(channel.guild.me)
    return [name.replace("_", " ") for name in names if not getattr(mine, name)]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def render_round(report: RoundReport, *, dry_run: bool) -> str:
    """A moderator's view of a round: who, scores and public reasons; private fields never
    appear (only that preferences were respected)."""
    head = "Dry run (nothing changed)" if dry_run else "Matching round done"
    lines = [
        f"**{head}**: {report.pool_size} in the pool, {_count(len(report.groups), 'group')}, "
        f"{len(report.unmatched)} unmatched, computed in {report.seconds * 1000:.0f} ms."
    ]
    for group in report.groups[:15]:
        who = " + ".join(f"<@{u}>" for u in group.user_ids)
        areas = ", ".join(group.shared_goal_areas) or "no shared goal area"
        lines.append(
            f"• {who}: score {group.score:.1f}, {group.overlap_minutes / 60:g} h/week together, "
            f"{areas}; preferences satisfied"
        )
    if len(report.groups) > 15:
        lines.append(f"• … and {len(report.groups) - 15} more groups")
    for user_id, hint in report.unmatched[:10]:
        lines.append(f"• <@{user_id}> waits" + (f": {hint}" if hint else ""))
    lines.append(f"Next scheduled round: {stamp(report.next_round)}")
    text = "\n".join(lines)
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"


def render_waits(waits: Sequence[tuple[int, int, str]]) -> str:
    """Members who have waited more than two rounds: mentions, rounds and a public hint only."""
    if not waits:
        return "**Waiting more than two rounds**: nobody"
    shown = [
        f"<@{user_id}> ({rounds} rounds" + (f", {hint})" if hint else ")")
        for user_id, rounds, hint in waits[:SHOWN]
    ]
    more = f" and {len(waits) - SHOWN} more" if len(waits) > SHOWN else ""
    return f"**Waiting more than two rounds** ({len(waits)}): " + ", ".join(shown) + more


class Rounds:
    """Scheduled matching rounds: a durable outbox row per community and occurrence."""

    def __init__(self, bot: PairBot) -> None:
        self.bot = bot

    async def handle(self, session: Any, work: DueWork) -> None:
        guild_id = int(work.payload["guild_id"])
        now = self.bot.deps.clock.now()
        # The round reads, solves and writes in its own short transactions (not this one, which
        # only marks the row done): nothing is held while it solves, and it fits in one lease.
        await matching.run_round(
            self.bot.deps.sessions, guild_id=guild_id, now=now, trigger="schedule"
        )
        await matching.schedule_next_round(session, guild_id=guild_id, now=now)

    async def schedule_all(self) -> None:
        async with unit_of_work(self.bot.deps.sessions) as session:
            now = self.bot.deps.clock.now()
            for guild_id in await matching.configured_guilds(session):
                await matching.schedule_next_round(session, guild_id=guild_id, now=now)


async def setup(bot: PairBot) -> None:
    rounds = Rounds(bot)
    bot.dispatcher.register(matching.ROUND_KIND, rounds.handle)
    await rounds.schedule_all()
    await bot.add_cog(Admin(bot))
