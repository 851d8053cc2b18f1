"""``/profile``: members describe themselves. Thin glue over ``bot.services.profiles``."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PairBot
from bot.db import read_only, unit_of_work
from bot.domain import profile as p
from bot.domain.availability_text import PRESETS, format_availability
from bot.domain.posts import availability_lines
from bot.domain.timezones import search_zones
from bot.interactions import BaseModal, BaseView, read_before_modal, send_ephemeral
from bot.services import profiles

log = logging.getLogger(__name__)

Interaction = discord.Interaction[PairBot]


def _choices(values: tuple[str, ...]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=v, value=v) for v in values]


def render_own_profile(profile: p.Profile, now_lines: list[str]) -> str:
    """The member's own view, private fields included (only ever sent to them, ephemerally)."""
    pub, priv = profile.public, profile.private
    lines = [
        "**Your profile**",
        f"Time zone: {pub.timezone or '*not set*'}",
        f"Availability: {format_availability(pub.windows) if pub.windows else '*not set*'}",
        f"Goal areas: {', '.join(pub.goal_areas) or '*not set*'}",
        f"Meets: {p.RHYTHM_LABELS.get(pub.rhythm or '', '*not set*')}"
        f", by {pub.medium or 'any medium'}",
        f"Languages: {', '.join(pub.languages) or '*not set*'}",
        f"Intro: {pub.intro or '*not set*'}",
        f"Goals: {pub.goals_text or '*not set*'}",
        f"Pool: {profile.pool_status}",
    ]
    if now_lines:
        lines += ["Your next windows, in your time:", *now_lines[:7]]
    private = [
        f"gender {priv.gender}" if priv.gender else "",
        f"age {priv.age_bracket}" if priv.age_bracket else "",
        f"partner gender {', '.join(priv.pref_genders)}" if priv.pref_genders else "",
        _age_pref(priv),
        f"partner languages {', '.join(priv.pref_languages)}" if priv.pref_languages else "",
    ]
    shown = [part for part in private if part]
    lines.append(
        "🔒 Private (only you see this; used for matching only): "
        + (", ".join(shown) if shown else "nothing set")
    )
    missing = p.missing_for_pool(pub)
    if missing:
        lines.append("To join the pool you still need: " + ", ".join(missing) + ".")
    return "\n".join(lines)


def _age_pref(priv: p.PrivateFields) -> str:
    if priv.pref_age_min is None and priv.pref_age_max is None:
        return ""
    if priv.pref_age_max is None:
        return f"partner age {priv.pref_age_min}+"
    return f"partner age {priv.pref_age_min}-{priv.pref_age_max}"


async def save_profile(
    bot: PairBot, interaction: discord.Interaction[Any], changes: profiles.ProfileChanges
) -> p.Profile | None:
    """Save the member's changes; their profile as it now is."""
    assert interaction.guild_id is not None
    async with unit_of_work(bot.deps.sessions) as session:
        await profiles.update_profile(
            session,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            changes=changes,
            now=bot.deps.clock.now(),
            display_name=interaction.user.display_name,
        )
        return await profiles.get_profile(
            session, guild_id=interaction.guild_id, user_id=interaction.user.id
        )


class ProfileTextModal(BaseModal, title="Your intro and goals"):
    intro: discord.ui.TextInput[ProfileTextModal] = discord.ui.TextInput(
        label="A short intro",
        style=discord.TextStyle.paragraph,
        max_length=p.INTRO_MAX,
        required=False,
        placeholder="Who you are and why you'd like an accountability partner",
    )
    goals: discord.ui.TextInput[ProfileTextModal] = discord.ui.TextInput(
        label="Your current goals",
        style=discord.TextStyle.paragraph,
        max_length=p.GOALS_MAX,
        required=False,
        placeholder="What you want to achieve in the coming weeks",
    )

    def __init__(self, bot: PairBot, intro: str | None, goals: str | None) -> None:
        super().__init__(custom_id="pairbot:profile:text")
        self.bot = bot
        self.intro.default = intro
        self.goals.default = goals

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        assert interaction.guild_id is not None
        changes = profiles.ProfileChanges(intro=self.intro.value, goals_text=self.goals.value)
        await save_profile(self.bot, interaction, changes)
        await send_ephemeral(
            interaction, "Saved your intro and goals. ✍️ `/profile show` shows everything."
        )


class EditTextView(BaseView):
    def __init__(self, bot: PairBot, intro: str | None, goals: str | None) -> None:
        super().__init__(timeout=600)
        self.bot, self.intro, self.goals = bot, intro, goals

    @discord.ui.button(
        label="Edit intro & goals",
        style=discord.ButtonStyle.secondary,
        custom_id="pairbot:profile:edit-text",  # opens a form: not deferred (MODAL_COMPONENTS)
    )
    async def edit_text(
        self, interaction: Interaction, _button: discord.ui.Button[EditTextView]
    ) -> None:
        await interaction.response.send_modal(ProfileTextModal(self.bot, self.intro, self.goals))


@app_commands.guild_only()
class Profiles(commands.GroupCog, group_name="profile", group_description="Your partner profile"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(
        name="edit", description="Describe yourself: time zone, availability, goals"
    )
    @app_commands.describe(
        timezone="Your time zone, e.g. Europe/Berlin (start typing a city or country)",
        availability="When you can meet, in your time: e.g. Mon-Fri 18:00-21:00, Sat 09:00-12:00",
        goal_areas="Comma-separated goal areas from this community's list",
        rhythm="How often you'd like to meet",
        medium="How you'd like to meet",
        languages="Languages you can meet in, comma-separated",
    )
    @app_commands.choices(rhythm=_choices(p.RHYTHMS), medium=_choices(p.MEDIUMS))
    async def edit(
        self,
        interaction: Interaction,
        timezone: str | None = None,
        availability: str | None = None,
        goal_areas: str | None = None,
        rhythm: str | None = None,
        medium: str | None = None,
        languages: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        changes = profiles.ProfileChanges(
            timezone=timezone,
            availability=availability,
            goal_areas=goal_areas,
            rhythm=rhythm,
            medium=medium,
            languages=languages,
        )
        if changes == profiles.ProfileChanges():
            # No options: the intro & goals form, which must be the first response (MODAL_FIRST).
            current = await read_before_modal(
                interaction, self._profile(interaction.guild_id, interaction.user.id)
            )
            await interaction.response.send_modal(
                ProfileTextModal(
                    self.bot,
                    current.public.intro if current else None,
                    current.public.goals_text if current else None,
                )
            )
            return
        current = await save_profile(self.bot, interaction, changes)
        assert current is not None
        intro, goals = current.public.intro, current.public.goals_text
        missing = p.missing_for_pool(current.public)
        text = "Saved. ✅"
        text += (
            " Still missing before you can join the pool: " + ", ".join(missing) + "."
            if missing
            else " Your profile is complete: `/partner find` puts you in the pool."
        )
        await send_ephemeral(interaction, text, view=EditTextView(self.bot, intro, goals))

    async def _profile(self, guild_id: int, user_id: int) -> p.Profile | None:
        async with read_only(self.bot.deps.sessions) as session:
            return await profiles.get_profile(session, guild_id=guild_id, user_id=user_id)

    @edit.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices = search_zones(current, now=self.bot.deps.clock.now())
        return [app_commands.Choice(name=c.label, value=c.name) for c in choices]

    @edit.autocomplete("availability")
    async def availability_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip()
        names = [name for name in PRESETS if typed.lower() in name]
        values = ([typed[:100]] if typed and typed.lower() not in PRESETS else []) + names
        return [app_commands.Choice(name=v, value=v) for v in values[:25]]

    @edit.autocomplete("goal_areas")
    async def goal_areas_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        areas = await self.bot.access.goal_areas(interaction.guild_id)
        done, _, last = current.rpartition(",")
        prefix = [part.strip() for part in done.split(",") if part.strip()]
        options = [a for a in areas if a.startswith(last.strip().lower()) and a not in prefix]
        values = [", ".join([*prefix, a]) for a in options]
        return [app_commands.Choice(name=v[:100], value=v[:100]) for v in values[:25]]

    @app_commands.command(name="private", description="Private details and partner preferences")
    @app_commands.describe(
        gender="Your gender (private)",
        age="Your age bracket (private)",
        partner_genders="Genders you'd like a partner to be, comma-separated (private)",
        partner_age="Age range for a partner, e.g. 25-40 or 30+ (private)",
        partner_languages="Languages your partner must speak, comma-separated (private)",
    )
    @app_commands.choices(gender=_choices(p.GENDERS), age=_choices(p.AGE_BRACKETS))
    async def private(
        self,
        interaction: Interaction,
        gender: str | None = None,
        age: str | None = None,
        partner_genders: str | None = None,
        partner_age: str | None = None,
        partner_languages: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        changes = profiles.PrivateChanges(
            gender=gender,
            age_bracket=age,
            pref_genders=partner_genders,
            pref_age=partner_age,
            pref_languages=partner_languages,
        )
        async with unit_of_work(self.bot.deps.sessions) as session:
            await profiles.update_private(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                changes=changes,
                now=self.bot.deps.clock.now(),
            )
        await send_ephemeral(
            interaction,
            "Saved. 🔒 Only you can see these; they're used for matching and never shown to "
            "anyone else.",
        )

    @app_commands.command(name="show", description="See your profile (only you can see it)")
    async def show(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        async with unit_of_work(self.bot.deps.sessions) as session:
            profile = await profiles.get_profile(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id
            )
        if profile is None:
            await send_ephemeral(
                interaction, "You don't have a profile yet. Start with `/profile edit`."
            )
            return
        lines = availability_lines(profile.public, self.bot.deps.clock.now())
        await send_ephemeral(interaction, render_own_profile(profile, lines))


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Profiles(bot))
