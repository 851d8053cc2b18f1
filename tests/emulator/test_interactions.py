"""People use slash commands, autocomplete, buttons, selects and modals; the bot's real
discord.py answers, and Discord's interaction rules hold."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord import app_commands

from emulator import (
    AnswerRejectedError,
    Emulator,
    Guild,
    NoAnswerError,
    Permission,
    ScenarioError,
)
from emulator.client import run_bot

from .conftest import make_bot, running


async def test_slash_command_with_typed_options_is_answered_ephemerally(
    emu: Emulator, guild: Guild
) -> None:
    bot = make_bot()
    seen: dict[str, object] = {}
    mentors = guild.create_role("Mentors")
    mods = guild.create_text_channel("mods")

    @bot.tree.command(description="Invite someone")
    @app_commands.describe(partner="who")
    async def invite(
        interaction: discord.Interaction,
        partner: discord.Member,
        where: discord.TextChannel,
        role: discord.Role,
        weeks: app_commands.Range[int, 1, 12],
        urgent: bool,
        hours: float,
        note: str = "none",
    ) -> None:
        seen.update(
            partner=partner,
            where=where,
            role=role,
            perms=interaction.permissions,
            app=interaction.app_permissions,
            locale=interaction.locale,
        )
        await interaction.response.send_message(
            f"{partner.display_name} in #{where.name} as {role.name}: "
            f"{weeks}w {urgent} {hours}h {note}",
            ephemeral=True,
        )

    alice = guild.add_member("alice", locale="de")
    bob = guild.add_member("bob", nick="Bobby")
    async with running(emu, bot, guild):
        reply = await alice.slash(
            "invite", partner=bob, where=mods, role=mentors, weeks=4, urgent=True, hours=1.5
        )
    assert reply.ephemeral
    assert reply.content == "Bobby in #mods as Mentors: 4w True 1.5h none"
    assert reply.message is not None and reply.message in alice.ephemerals()
    assert guild.default_channel.messages == []
    assert isinstance(seen["partner"], discord.Member)
    assert isinstance(seen["where"], discord.TextChannel)
    assert isinstance(seen["role"], discord.Role)
    assert seen["perms"] == discord.Permissions(alice.permissions(guild.default_channel))
    assert seen["app"] == discord.Permissions(guild.me.permissions(guild.default_channel))
    assert seen["locale"] == discord.Locale.german


async def test_a_test_cannot_do_what_a_person_could_not(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    @bot.tree.command(description="Add a goal")
    @app_commands.choices(rhythm=[app_commands.Choice(name="Weekly", value="weekly")])
    async def goal(interaction: discord.Interaction, text: str, rhythm: str) -> None:
        await interaction.response.send_message(f"{text} {rhythm}")

    @bot.tree.command(description="Moderators only")
    @app_commands.default_permissions(manage_guild=True)
    async def setup(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("configured")

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        with pytest.raises(ScenarioError, match="not synced"):
            await alice.slash("profile")
        with pytest.raises(ScenarioError, match="no option"):
            await alice.slash("goal", text="x", rhythm="weekly", colour="red")
        with pytest.raises(ScenarioError, match="needs option 'rhythm'"):
            await alice.slash("goal", text="x")
        with pytest.raises(ScenarioError, match="must be one of"):
            await alice.slash("goal", text="x", rhythm="daily")
        assert (await alice.slash("goal", text="x", rhythm="Weekly")).content == "x weekly"
        with pytest.raises(ScenarioError, match="cannot see /setup"):
            await alice.slash("setup")
        assert (await guild.owner.slash("setup")).content == "configured"
        guild.allow_command("setup", alice)
        assert (await alice.slash("setup")).content == "configured"


async def test_subcommand_groups_reach_the_right_callback(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()
    profile = app_commands.Group(name="profile", description="Your profile")
    goals = app_commands.Group(name="goals", description="Goals", parent=profile)

    @profile.command(description="Edit")
    async def edit(interaction: discord.Interaction, timezone: str) -> None:
        await interaction.response.send_message(f"edited {timezone}")

    @goals.command(description="Add a goal")
    async def add(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(f"goal {text}")

    bot.tree.add_command(profile)
    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        assert (await alice.slash("profile edit", timezone="Europe/Berlin")).content == (
            "edited Europe/Berlin"
        )
        assert (await alice.slash("profile goals add", text="write")).content == "goal write"
        with pytest.raises(ScenarioError, match="needs a subcommand"):
            await alice.slash("profile goals")
        with pytest.raises(ScenarioError, match="no subcommand 'delete'"):
            await alice.slash("profile delete")


async def test_autocomplete_returns_the_bots_choices(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()
    zones = ["Europe/Berlin", "Europe/Bern", "America/New_York"] + [
        f"Etc/GMT+{i}" for i in range(12)
    ]

    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        hits = [z for z in zones if current.lower() in z.lower()]
        if current == "everything":
            hits = [f"Zone/{i}" for i in range(26)]
        return [app_commands.Choice(name=z, value=z) for z in hits]

    @bot.tree.command(description="Set your time zone")
    @app_commands.autocomplete(timezone=complete)
    async def tz(interaction: discord.Interaction, timezone: str, weekly: bool = True) -> None:
        await interaction.response.send_message(timezone)

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        choices = await alice.autocomplete("tz", "timezone", "ber", weekly=False)
        assert [c["value"] for c in choices] == ["Europe/Berlin", "Europe/Bern"]
        with pytest.raises(ScenarioError, match="not an autocomplete option"):
            await alice.autocomplete("tz", "weekly", "t")
        with pytest.raises(AnswerRejectedError, match="Invalid Form Body"):
            await alice.autocomplete("tz", "timezone", "everything")
    assert [v.code for v in emu.violations] == [50035]
    assert "25 or fewer" in str(emu.violations[0].detail["explanation"])
    emu.violations.clear()


class Proposal(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(
        label="Accept", style=discord.ButtonStyle.success, custom_id="proposal:accept"
    )
    async def accept(
        self, interaction: discord.Interaction, button: discord.ui.Button[Proposal]
    ) -> None:
        button.disabled = True
        await interaction.response.edit_message(
            content=f"Accepted by {interaction.user.name}", view=self
        )

    @discord.ui.button(
        label="Decline", style=discord.ButtonStyle.danger, custom_id="proposal:decline"
    )
    async def decline(
        self, interaction: discord.Interaction, button: discord.ui.Button[Proposal]
    ) -> None:
        await interaction.response.send_message("Declined, kindly.", ephemeral=True)

    @discord.ui.select(
        custom_id="proposal:slot",
        placeholder="Pick a slot",
        options=[
            discord.SelectOption(label="Tue 18:00", value="tue"),
            discord.SelectOption(label="Thu 19:00", value="thu"),
        ],
    )
    async def slot(
        self, interaction: discord.Interaction, select: discord.ui.Select[Proposal]
    ) -> None:
        await interaction.response.send_message(f"slot {select.values[0]}", ephemeral=True)


async def test_buttons_and_selects_round_trip(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    @bot.tree.command(description="Propose")
    async def propose(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Alice & Bob?", view=Proposal())

    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    async with running(emu, bot, guild):
        proposal = await alice.slash("propose")
        assert proposal.button_labels == ["Accept", "Decline"]
        assert proposal.message in guild.default_channel.messages
        declined = await bob.press(proposal, label="Decline")
        assert declined.ephemeral and declined.content == "Declined, kindly."
        with pytest.raises(ScenarioError, match="cannot see that ephemeral"):
            await alice.press(declined, "Accept")
        slot = await bob.choose(proposal, ["Thu 19:00"])
        assert slot.content == "slot thu"
        accepted = await bob.press(proposal, "Accept")
        assert accepted.kind == "update"
        assert accepted.message is proposal.message
        assert proposal.content == "Accepted by bob"
        with pytest.raises(ScenarioError, match="disabled"):
            await alice.press(proposal, "Accept")
        with pytest.raises(ScenarioError, match="no button 'Maybe'"):
            await alice.press(proposal, "Maybe")


class Intro(discord.ui.Modal, title="Introduce yourself"):
    goals: discord.ui.TextInput[Intro] = discord.ui.TextInput(
        label="Your goals", style=discord.TextStyle.paragraph, custom_id="goals", max_length=500
    )
    why: discord.ui.Label[Intro] = discord.ui.Label(
        text="Why a partner?",
        component=discord.ui.TextInput(
            custom_id="why", required=False, style=discord.TextStyle.short
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        why = self.why.component
        assert isinstance(why, discord.ui.TextInput)
        await interaction.response.send_message(
            f"goals={self.goals.value!r} why={why.value!r}", ephemeral=True
        )


async def test_modal_opens_and_submits(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    @bot.tree.command(description="Introduce yourself")
    async def intro(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Intro())

    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    async with running(emu, bot, guild):
        opened = await alice.slash("intro")
        assert opened.kind == "modal" and opened.modal is not None
        assert opened.modal.title == "Introduce yourself"
        assert opened.modal.labels == ["Your goals", "Why a partner?"]
        with pytest.raises(ScenarioError, match="opened for alice"):
            await bob.submit(opened, {"goals": "x"})
        with pytest.raises(ScenarioError, match="at most 500"):
            await alice.submit(opened, {"goals": "x" * 501})
        with pytest.raises(ScenarioError, match="is required"):
            await alice.submit(opened, {"Why a partner?": "accountability"})
        done = await alice.submit(opened, {"Your goals": "Write daily", "why": "accountability"})
        assert done.content == "goals='Write daily' why='accountability'"
        with pytest.raises(ScenarioError, match="already submitted"):
            await alice.submit(opened, {"goals": "again"})


async def test_deferrals_then_followups_and_edits(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    class Slow(discord.ui.View):
        @discord.ui.button(label="Refresh", custom_id="refresh")
        async def refresh(
            self, interaction: discord.Interaction, button: discord.ui.Button[Slow]
        ) -> None:
            await interaction.response.defer()
            await asyncio.sleep(0)
            await interaction.edit_original_response(content="refreshed", view=None)

    @bot.tree.command(description="Slow stats")
    async def stats(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0)
        await interaction.followup.send("12 pairs", ephemeral=True)
        await interaction.followup.send("and a chart", ephemeral=True, view=Slow())

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        reply = await alice.slash("stats")
        assert reply.ephemeral and reply.content == "12 pairs"
        assert reply.message is not None and not reply.message.loading
        chart = await reply.wait_followup(1)
        assert chart.ephemeral and chart.content == "and a chart"
        refreshed = await alice.press(chart, "Refresh")
        assert refreshed.kind == "update" and refreshed.content == "refreshed"
        assert chart.components == []


async def test_answering_twice_and_answering_late_are_refused(guild: Guild) -> None:
    async with Emulator(interaction_deadline=0.2) as emu:
        g = emu.create_guild("Timing")
        bot = make_bot()
        errors: list[discord.HTTPException] = []

        @bot.tree.command(description="Answers twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("first")
            try:
                await discord.InteractionResponse(interaction).send_message("second")
            except discord.HTTPException as exc:
                errors.append(exc)

        @bot.tree.command(description="Answers late")
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                errors.append(exc)

        alice = g.add_member("alice")
        bot_guild = discord.Object(g.id)

        async def setup_hook() -> None:
            bot.tree.copy_global_to(guild=bot_guild)
            await bot.tree.sync(guild=bot_guild)

        bot.setup_hook = setup_hook  # type: ignore[method-assign]
        async with run_bot(emu, bot):
            assert (await alice.slash("twice")).content == "first"
            await emu.wait_for(lambda: errors)
            assert errors[0].code == 40060
            with pytest.raises(NoAnswerError, match=r"within 0\.2s"):
                await alice.slash("late")
            await emu.wait_for(lambda: len(errors) == 2)
            assert isinstance(errors[1], discord.NotFound) and errors[1].code == 10062
        assert [v.code for v in emu.violations] == [40060, 10062]
        assert g.default_channel.messages[-1].content == "first"


async def test_a_rejected_answer_is_reported_to_the_test(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()

    @bot.tree.command(description="Too long")
    async def essay(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=discord.Embed(description="x" * 4097), content="y" * 2001
        )

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        with pytest.raises(AnswerRejectedError) as caught:
            await alice.slash("essay")
    explanation = str(caught.value.violation.detail["explanation"])
    assert "content: Must be 2000 or fewer" in explanation
    assert "embeds.0.description: Must be 4096 or fewer" in explanation
    emu.violations.clear()


async def test_commands_in_dms_and_permissions_in_the_payload(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()
    perms: list[discord.Permissions] = []

    @bot.tree.command(description="Where am I?")
    async def whereami(interaction: discord.Interaction) -> None:
        perms.append(interaction.permissions)
        kind = "dm" if interaction.guild_id is None else "guild"
        await interaction.response.send_message(f"{kind} {interaction.user.name}")

    alice = guild.add_member("alice", admin=True)
    async with running(emu, bot):
        assert (await alice.slash("whereami", in_dm=True)).content == "dm alice"
        assert alice.dm_channel.messages[-1].content == "dm alice"
        assert (await alice.slash("whereami")).content == "guild alice"
    assert perms[1].administrator
    assert Permission.ADMINISTRATOR in Permission(perms[1].value & Permission.ADMINISTRATOR)


class Note(discord.ui.Modal, title="How did it go?"):
    note: discord.ui.TextInput[Note] = discord.ui.TextInput(
        label="Note", custom_id="note", max_length=200
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(
            content=f"Partly done: {self.note.value}", view=None
        )


class CheckIn(discord.ui.View):
    @discord.ui.button(label="Done", custom_id="checkin:done")
    async def done(
        self, interaction: discord.Interaction, button: discord.ui.Button[CheckIn]
    ) -> None:
        await interaction.response.edit_message(content="Done, well done!", view=None)

    @discord.ui.button(label="Partly", custom_id="checkin:partly")
    async def partly(
        self, interaction: discord.Interaction, button: discord.ui.Button[CheckIn]
    ) -> None:
        await interaction.response.send_modal(Note())


async def test_a_dm_check_in_with_buttons_and_a_modal(emu: Emulator, guild: Guild) -> None:
    alice, bob = guild.add_member("alice"), guild.add_member("bob")
    async with running(emu, make_bot(), guild) as bot:
        for person in (alice, bob):
            user = await bot.fetch_user(person.id)
            await user.send("Weekly check-in: how did your goals go?", view=CheckIn(timeout=None))
        done = await alice.press(alice.dms()[-1], "Done")
        assert done.kind == "update" and alice.dms()[-1].content == "Done, well done!"
        assert alice.dms()[-1].components == []
        opened = await bob.press(bob.dms()[-1], "Partly")
        assert opened.modal is not None
        submitted = await bob.submit(opened, {"Note": "wrote 2 of 5 pages"})
        assert submitted.kind == "update"
        assert bob.dms()[-1].content == "Partly done: wrote 2 of 5 pages"
        with pytest.raises(ScenarioError, match="no button"):
            await bob.press(bob.dms()[-1], "Done")


async def test_files_in_responses_followups_and_edits(emu: Emulator, guild: Guild) -> None:
    bot = make_bot()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(32))

    @bot.tree.command(description="Your stats")
    async def stats(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "chart:", file=discord.File(io.BytesIO(png), "week.png")
        )
        await interaction.followup.send("more", file=discord.File(io.BytesIO(png), "month.png"))

    @bot.tree.command(description="Slow chart")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(
            content="ready", attachments=[discord.File(io.BytesIO(png), "year.png")]
        )

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        reply = await alice.slash("stats")
        assert [a.filename for a in reply.attachments] == ["week.png"]
        assert reply.attachments[0].data == png
        more = await reply.wait_followup()
        assert more.attachments[0].filename == "month.png"
        slow_reply = await alice.slash("slow")
        assert slow_reply.content == "ready" and slow_reply.attachments[0].filename == "year.png"
    uploads = [r for r in emu.requests if r.files]
    assert [r.files for r in uploads] == [["week.png"], ["month.png"], ["year.png"]]
