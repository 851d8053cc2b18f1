"""The bot under Discord's real limits and with answers that get lost: every delivery arrives
once, in order, on time, and the suite never waits real time for it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services import outbox
from bot.services.outbox import NewWork
from bot.services.ports import OutgoingMessage, nonce_for


async def test_a_lost_answer_retried_after_the_nonce_window_still_gives_one_message(
    sb: Sandbox,
) -> None:
    """The message is created but the bot hears only a dropped connection; its retry comes
    after a backoff longer than Discord's nonce window, so Discord would post a second message:
    the bot's receipt (the gateway's MESSAGE_CREATE with the nonce) stops it."""
    dana = sb.member("dana")
    sb.emu.world.nonce_window = 120.0  # "the past few minutes"; the backoff below is longer
    lost = sb.emu.faults.lose_response("POST /channels/*/messages")
    now = sb.clock.now()
    async with unit_of_work(sb.bot.deps.sessions) as session:
        await outbox.enqueue(
            session, key=f"checkin:{dana.id}", kind="checkin", now=now, due_at=now,
            guild_id=sb.guild.id, user_id=dana.id,
            payload=outbox.delivery_payload(OutgoingMessage(content="How did your goal go?")),
        )  # fmt: skip
    await sb.tick()
    assert lost.exhausted and len(dana.dms()) == 1
    async with sb.bot.deps.sessions() as session:
        due = await outbox.next_due_at(session, after=sb.clock.now())
    assert due is not None  # the bot believes it failed and will retry
    await sb.travel_to(due + timedelta(minutes=10))  # far past the nonce window
    posts = sb.emu.requests_to("POST /channels/*/messages")
    assert len(posts) == 1  # the retry did not even ask Discord again
    [dm] = dana.dms()
    assert dm.nonce == nonce_for(f"checkin:{dana.id}")
    assert sb.bot.dispatcher.receipts_used == 1
    async with sb.bot.deps.sessions() as session:
        state = await session.scalar(
            select(outbox.OUTBOX.c.state).where(outbox.OUTBOX.c.key == f"checkin:{dana.id}")
        )
    assert state == "sent"


async def test_a_busy_communitys_reminders_arrive_in_order_and_on_time_under_the_limits(
    sb: Sandbox,
) -> None:
    """200 members, two reminders each, all due in the same minute. Under Discord's limits
    (50/s globally, 5 per 5 s per DM channel, DM opens 10 per 10 s) every reminder arrives, each
    member's in due order, with no 429, within the time the limits themselves impose: the DM
    opens at the bot's pace (9 per 10 s) plus every request at 40/s."""
    members = [sb.member(f"m{i}") for i in range(200)]
    start = sb.clock.now()
    minute = timedelta(minutes=1)
    due = {}
    items = []
    for i, member in enumerate(members):
        for n in range(2):
            at = start + minute * (n * len(members) + i) / (2 * len(members))
            key = f"reminder:{member.id}:{n}"
            due[key] = at
            items.append(
                NewWork(
                    key=key, kind="checkin", due_at=at, guild_id=sb.guild.id, user_id=member.id,
                    payload=outbox.delivery_payload(OutgoingMessage(content=f"reminder {n}")),
                )
            )  # fmt: skip
    async with unit_of_work(sb.bot.deps.sessions) as session:
        await outbox.enqueue_many(session, items=items, now=start)
    arrived: dict[str, float] = {}
    nonces = {nonce_for(key): key for key in due}

    def stamp(event: str, message: object) -> None:
        nonce = getattr(message, "nonce", None)
        if event == "create" and nonce in nonces:
            arrived[nonces[nonce]] = sb.emu.clock.now()

    sb.emu.world.message_listeners.append(stamp)
    sb.clock.set(start + minute)  # everything is due
    await sb.tick()
    assert len(arrived) == len(due)
    for member in members:
        assert [m.content for m in member.dms()] == ["reminder 0", "reminder 1"]
    assert sb.emu.faults.rate_limited == 0  # the bot paced itself: Discord never said 429
    opens = len(members)
    requests = opens + len(due)
    bound = 10.0 * -(-opens // 9) + requests / 40 + 1
    latest = max(arrived.values()) - (start + minute).timestamp()
    assert latest <= bound
    # The limits really shaped it: the opens alone take this long at Discord's pace.
    assert latest >= 10.0 * (opens // 10 - 1)
    assert sb.emu.clock.fake_waited > 0  # waited on the emulator's clock, not in real time
