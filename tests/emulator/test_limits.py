"""Discord's real limits, on by default and on the emulator's clock: 429 bodies and
``X-RateLimit-*`` headers as Discord sends them, discord.py's own handling of them without
real-time waits, the nonce window, lost answers, mention defaults, upload size and link URLs."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import pytest_asyncio

from emulator import Emulator, Guild

from .conftest import make_bot, running


class Fake:
    """A clock only the test moves (seconds), for the emulator to follow."""

    def __init__(self) -> None:
        self.t = 1_767_600_000.0

    def now(self) -> float:
        return self.t


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest_asyncio.fixture
async def femu(fake: Fake) -> AsyncIterator[Emulator]:
    """An emulator whose limits and nonce window count on ``fake`` (plus waits on its clock)."""
    async with Emulator() as emulator:
        emulator.clock.follow(fake.now)
        yield emulator


async def _post(
    http: aiohttp.ClientSession, emu: Emulator, path: str, body: object
) -> tuple[int, dict[str, str], object]:
    async with http.post(
        f"{emu.api_url}{path}", json=body, headers={"Authorization": f"Bot {emu.token}"}
    ) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


async def test_message_posts_are_limited_to_5_per_5_seconds_per_channel(
    femu: Emulator, fake: Fake
) -> None:
    guild = femu.create_guild("Limits")
    other = guild.create_text_channel("other")
    path = f"/channels/{guild.default_channel.id}/messages"
    async with aiohttp.ClientSession() as http:
        answers = [await _post(http, femu, path, {"content": f"n{i}"}) for i in range(6)]
        statuses = [status for status, _, _ in answers]
        assert statuses == [200] * 5 + [429]
        assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:5]] == ["4", "3", "2", "1", "0"]
        assert {h["X-RateLimit-Limit"] for _, h, _ in answers} == {"5"}
        assert len({h["X-RateLimit-Bucket"] for _, h, _ in answers}) == 1
        _, headers, body = answers[5]
        assert body == {
            "message": "You are being rate limited.",
            "retry_after": pytest.approx(5.0),
            "global": False,
        }
        assert headers["X-RateLimit-Scope"] == "user" and headers["Retry-After"] == "5"
        assert "X-RateLimit-Global" not in headers and headers["Via"]
        assert float(headers["X-RateLimit-Reset"]) == pytest.approx(fake.t + 5.0)
        # Another channel has its own bucket; the first one refills on the emulator's clock.
        assert (await _post(http, femu, f"/channels/{other.id}/messages", {"content": "x"}))[
            0
        ] == 200
        fake.t += 4.9
        assert (await _post(http, femu, path, {"content": "late"}))[0] == 429
        fake.t += 0.1
        assert (await _post(http, femu, path, {"content": "now"}))[0] == 200
    assert len(guild.default_channel.messages) == 6


async def test_dm_opens_and_thread_creates_are_limited(femu: Emulator, fake: Fake) -> None:
    guild = femu.create_guild("Limits")
    people = [guild.add_member(f"p{i}") for i in range(11)]
    async with aiohttp.ClientSession() as http:
        opens = [
            (await _post(http, femu, "/users/@me/channels", {"recipient_id": str(p.id)}))[0]
            for p in people
        ]
        assert opens == [200] * 10 + [429]  # 10 per 10 s for the whole bot
        threads = [
            (
                await _post(
                    http,
                    femu,
                    f"/channels/{guild.default_channel.id}/threads",
                    {"name": f"t{i}", "type": 12},
                )
            )[0]
            for i in range(6)
        ]
        assert threads[:5] != [429] * 5 and threads[5] == 429  # 5 per 5 s per channel
        fake.t += 10
        assert (
            await _post(http, femu, "/users/@me/channels", {"recipient_id": str(people[-1].id)})
        )[0] == 200


async def test_the_global_limit_is_50_a_second_and_says_global(femu: Emulator, fake: Fake) -> None:
    femu.create_guild("Limits")
    auth = {"Authorization": f"Bot {femu.token}"}
    async with aiohttp.ClientSession() as http:
        statuses = []
        for _ in range(51):
            async with http.get(f"{femu.api_url}/users/@me", headers=auth) as resp:
                statuses.append(resp.status)
                last = (dict(resp.headers), await resp.json(content_type=None))
        assert statuses == [200] * 50 + [429]
        headers, body = last
        assert body["global"] is True and body["code"] == 0
        assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
        fake.t += 1.0
        async with http.get(f"{femu.api_url}/users/@me", headers=auth) as resp:
            assert resp.status == 200
    assert femu.faults.global_limit_hits == 1


async def test_discord_py_waits_out_the_limits_on_the_emulator_clock(femu: Emulator) -> None:
    """discord.py reads the headers and waits for a bucket's reset; its sleeps are waits on the
    emulator's clock (``emulator.client.sleep_on_emulator_clock``), so none is real."""
    guild = femu.create_guild("Limits")
    async with running(femu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        for i in range(12):
            await channel.send(f"n{i}")
    assert [m.content for m in guild.default_channel.messages] == [f"n{i}" for i in range(12)]
    assert femu.faults.rate_limited == 0  # discord.py waited before the bucket ran dry
    assert femu.clock.fake_waited >= 10.0  # two resets of 5 s, on the emulator's clock


async def test_the_nonce_window_is_on_the_emulator_clock_and_configurable(fake: Fake) -> None:
    async with Emulator(nonce_window=60.0) as emu:
        emu.clock.follow(fake.now)
        guild = emu.create_guild("Nonces")
        path = f"/channels/{guild.default_channel.id}/messages"
        body = {"content": "reminder", "nonce": "pb42", "enforce_nonce": True}
        async with aiohttp.ClientSession() as http:
            first = (await _post(http, emu, path, body))[2]
            fake.t += 59.0
            again = (await _post(http, emu, path, body))[2]
            fake.t += 2.0
            later = (await _post(http, emu, path, body))[2]
        assert isinstance(first, dict) and isinstance(again, dict) and isinstance(later, dict)
        assert first["id"] == again["id"] != later["id"]
        assert len(guild.default_channel.messages) == 2


async def test_a_lost_answer_creates_the_message_but_the_client_sees_an_error(
    femu: Emulator,
) -> None:
    guild = femu.create_guild("Lost")
    rule = femu.faults.lose_response("POST /channels/*/messages")
    async with running(femu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(aiohttp.ClientError):
            await channel.send("did it arrive?")
        assert [m.content for m in guild.default_channel.messages] == ["did it arrive?"]
        assert rule.exhausted
        await channel.send("and this one?")  # the fault is used up
    assert len(guild.default_channel.messages) == 2


async def test_interaction_and_webhook_replies_without_allowed_mentions_ping_users_only(
    emu: Emulator, guild: Guild
) -> None:
    alice = guild.add_member("alice")
    mentors = guild.create_role("Mentors", mentionable=True)
    alice.add_role(mentors)
    text = f"@everyone {alice.mention} {mentors.mention} hello"
    bot = make_bot()

    @bot.tree.command(description="Say hello")
    async def hello(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(text)
        await interaction.followup.send(text)

    moderator = guild.add_member("mod", admin=True)
    async with running(emu, bot, guild):
        reply = await moderator.slash("hello")
        followup = await reply.wait_followup(1)
    for message in (reply.message, followup):
        assert message is not None
        assert message.pings.users == {alice.id}
        assert not message.pings.roles and not message.pings.everyone


async def test_uploads_over_the_size_limit_get_413_40005(emu: Emulator, guild: Guild) -> None:
    emu.world.upload_limit = 1024  # Discord's is 10 MiB for a server without boosts
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(file=discord.File(io.BytesIO(b"x" * 1024), "fits.txt"))
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send(file=discord.File(io.BytesIO(b"x" * 1025), "big.txt"))
        assert caught.value.status == 413 and caught.value.code == 40005
    assert len(guild.default_channel.messages) == 1
    assert [v.code for v in emu.violations] == [40005]
    emu.violations.clear()


@pytest.mark.parametrize(
    "url", ["not a url", "javascript:alert(1)", "https://", "https://x.org/a b", "ftp://x.org"]
)
async def test_link_buttons_with_bad_urls_get_50035(emu: Emulator, guild: Guild, url: str) -> None:
    async with running(emu, make_bot(), guild) as bot:
        channel = bot.get_channel(guild.default_channel.id)
        assert isinstance(channel, discord.TextChannel)
        good = discord.ui.View()
        good.add_item(discord.ui.Button(label="Guide", url="https://example.org/guide"))
        await channel.send("ok", view=good)
        bad = discord.ui.View()
        bad.add_item(discord.ui.Button(label="Guide", url=url))
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("bad", view=bad)
        assert caught.value.code == 50035
        errors = emu.violations[-1].detail["errors"]
        assert "URL_TYPE_INVALID_URL" in str(errors)
    assert [m.content for m in guild.default_channel.messages] == ["ok"]
    emu.violations.clear()


async def test_limits_can_be_switched_off_for_a_benchmark() -> None:
    async with Emulator(discord_limits=False) as emu:
        guild = emu.create_guild("Off")
        path = f"/channels/{guild.default_channel.id}/messages"
        async with aiohttp.ClientSession() as http:
            statuses = [(await _post(http, emu, path, {"content": "x"}))[0] for _ in range(8)]
        assert statuses == [200] * 8
