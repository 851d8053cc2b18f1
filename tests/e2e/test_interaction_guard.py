"""Every interaction is answered and every one passes the community's access check: buttons,
selects and modals as well as slash commands. A forged or stale ``custom_id`` (a row that does
not exist or is someone else's, a number too large for any id, an id no handler knows) gets a
polite "that button has expired" reply, never silence and never the unexpected-error reply."""

from __future__ import annotations

import pytest

from bot.interactions import EXPIRED
from bot.sandbox import Sandbox
from emulator import Member, Message
from emulator.interactions import Modal
from tests.e2e.test_profiles_forum import write_profile

UNEXPECTED = "Something went wrong on my side"
HUGE = "9" * 20  # beyond any 64-bit id


def forged_message(sb: Sandbox, custom_id: str) -> Message:
    """A message from the bot with a button the bot never made (as a client could forge)."""
    return sb.emu.world.create_message(
        sb.pairs,
        sb.emu.bot_user,
        {
            "content": "An old message",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 1, "label": "Press me", "custom_id": custom_id}
                    ],
                }
            ],
        },
    )


async def press_forged(sb: Sandbox, who: Member, custom_id: str) -> str:
    reply = await who.press(forged_message(sb, custom_id), "Press me")
    assert reply.ephemeral, custom_id
    assert UNEXPECTED not in reply.content, (custom_id, reply.content)
    assert "Traceback" not in reply.content
    return reply.content


@pytest.mark.parametrize(
    "custom_id",
    [
        "no-such-handler",
        "pairbot:unknown:1",
        "6d2c4f1a9b8e4a7f8c3d2e1f0a9b8c7d",  # what a timed-out view's button looks like
        f"pairbot:request:{HUGE}",
        f"pairbot:req:accept:{HUGE}",
        f"pairbot:prop:accept:{HUGE}",
        f"pairbot:trial:continue:{HUGE}",
        f"pairbot:met:yes:{HUGE}",
        f"pairbot:quiet:wait:{HUGE}",
        f"pairbot:g:ci:{HUGE}:done",
        f"pairbot:g:why:{HUGE}",
    ],
)
async def test_a_forged_or_out_of_range_button_is_answered_as_expired(
    sb: Sandbox, custom_id: str
) -> None:
    """Regression: a custom_id that matched no handler, or named an id too large for the
    database, was left unanswered or answered with the unexpected-error reply."""
    alice = sb.member("alice")
    text = await press_forged(sb, alice, custom_id)
    assert text == EXPIRED


@pytest.mark.parametrize(
    "custom_id",
    [
        "pairbot:request:123456",
        "pairbot:req:accept:987",
        "pairbot:req:decline:987",
        "pairbot:prop:accept:987",
        "pairbot:trial:part:987",
        "pairbot:met:no:987",
        "pairbot:quiet:rematch:987",
        "pairbot:g:ci:987:done",
        "pairbot:g:ci:987:note",
        "pairbot:g:fb:987",
        "pairbot:g:why:987",
        "pairbot:prop:accept:4294967296",  # fits 64 bits, not a 32-bit row id column
        "pairbot:req:decline:4294967296",
        "pairbot:met:yes:9223372036854775807",
    ],
)
async def test_a_button_naming_a_row_that_does_not_exist_gets_a_polite_answer(
    sb: Sandbox, custom_id: str
) -> None:
    """Regression: stale ids must be answered kindly, not with silence or an error."""
    alice = sb.member("alice")
    await write_profile(alice, "Alice here")
    await press_forged(sb, alice, custom_id)


async def test_someone_elses_request_buttons_refuse_politely_and_change_nothing(
    sb: Sandbox,
) -> None:
    alice, bob, carol = sb.member("alice"), sb.member("bob"), sb.member("carol")
    for who in (alice, bob, carol):
        await write_profile(who, f"{who.name} here")
    await alice.slash("partner find")
    await bob.press(sb.forum.threads[0].messages[0], "Request partnership")
    card = await alice.wait_for_dm("would like to be your accountability partner")
    accept_id = next(b["custom_id"] for b in card.buttons if b.get("label") == "Accept")
    text = await press_forged(sb, carol, accept_id)
    assert "isn't addressed to you" in text
    assert sb.pairs.threads == []  # no partnership came of carol's press
    accepted = await alice.press(card, "Accept")
    assert "You accepted" in accepted.content


async def test_a_forged_modal_submit_is_answered_as_expired(sb: Sandbox) -> None:
    """Regression: a modal submit whose custom_id no open modal has was dropped unanswered."""
    alice = sb.member("alice")
    reply = await alice.slash("profile edit", timezone="Europe/Berlin")
    opened = await alice.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    data = dict(opened.modal.data)
    data["custom_id"] = "pairbot:prop:why:123"
    forged = Modal(data, opened.modal.opened_by)
    answer = await alice.submit(forged, {"A short intro": "hi", "Your current goals": "x"})
    assert answer.ephemeral and answer.content == EXPIRED


async def test_request_partnership_button_needs_the_access_role(sb: Sandbox) -> None:
    """Regression: "Request partnership" (a persistent button) skipped the community's access
    role, which only slash commands checked."""
    role = sb.guild.create_role("accountability")
    alice, bob = sb.member("alice", roles=[role]), sb.member("bob")
    await write_profile(alice, "Alice here")
    await write_profile(bob, "Bob here")  # before the role was required
    await alice.slash("partner find")
    saved = await sb.moderator.slash("admin setup", access_role=role)
    assert "Saved" in saved.content
    refused = await bob.press(sb.forum.threads[0].messages[0], "Request partnership")
    assert refused.ephemeral and f"<@&{role.id}>" in refused.content
    assert alice.dms() == []  # no request card went out


async def test_every_component_and_modal_checks_the_access_role(sb: Sandbox) -> None:
    """The same check on a view's button and on a modal submit (the role was taken away
    between opening the form and sending it)."""
    role = sb.guild.create_role("accountability")
    bob = sb.member("bob", roles=[role])
    await write_profile(bob, "Bob here")
    reply = await bob.slash("profile edit", rhythm="biweekly")
    opened = await bob.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    await sb.moderator.slash("admin setup", access_role=role)
    sb.emu.world.remove_member_role(bob, role)
    refused = await bob.submit(
        opened.modal, {"A short intro": "Changed", "Your current goals": "Changed"}
    )
    assert refused.ephemeral and f"<@&{role.id}>" in refused.content
    pressed = await bob.press(reply, "Edit intro & goals")
    assert pressed.modal is None and f"<@&{role.id}>" in pressed.content
    sb.emu.world.add_member_role(bob, role)
    shown = await bob.slash("profile show")
    assert "Bob here" in shown.content and "Changed" not in shown.content
