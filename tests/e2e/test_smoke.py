"""The whole path works: a member runs a command and sees the ephemeral reply, a button press
and a modal round-trip, and a DM arrives."""

from __future__ import annotations

from bot.sandbox import Sandbox


async def test_a_member_asks_for_help_and_sees_a_private_answer(sb: Sandbox) -> None:
    alice = sb.member("alice")
    reply = await alice.slash("help")
    assert reply.ephemeral
    assert "/profile edit" in reply.content
    assert "/partner find" in reply.content


async def test_profile_edit_opens_a_modal_and_the_button_reopens_it(sb: Sandbox) -> None:
    alice = sb.member("alice")
    reply = await alice.slash("profile edit")
    assert reply.modal is not None
    saved = await alice.submit(
        reply.modal, {"A short intro": "Hi, I'm Alice.", "Your current goals": "Run 5k"}
    )
    assert saved.ephemeral and "Saved your intro" in saved.content

    edited = await alice.slash("profile edit", timezone="Europe/Berlin")
    assert edited.ephemeral and "Saved" in edited.content
    again = await alice.press(edited, "Edit intro & goals")
    assert again.modal is not None
    shown = await alice.slash("profile show")
    assert "Hi, I'm Alice." in shown.content and "Europe/Berlin" in shown.content
