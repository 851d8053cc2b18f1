"""``pairbot demo`` runs the real bot against the emulator and prints what members see."""

from __future__ import annotations

import io

import pytest

from bot.__main__ import main
from bot.demo import community, run_demo


async def test_a_small_demo_walks_the_whole_journey() -> None:
    out = io.StringIO()
    assert await run_demo(members=8, weeks=2, seed=3, transcript=None, out=out) == 0
    text = out.getvalue()
    assert "8 members describe themselves" in text
    assert "Did you mean Europe/Berlin?" in text  # a polite error on a hand-typed zone
    assert "the forum has 8 posts" in text
    assert "would like to be your accountability partner" in text
    assert "accepted your partnership request" in text
    assert "Dry run (nothing changed)" in text  # the moderator's preview of a round
    assert "you're partners" in text  # both accepted in their private thread
    assert "Meeting set" in text and "your meeting starts" in text  # set, then the reminder
    assert "Check-in time" in text
    assert "Before your next meeting" in text  # the missed-goal prompt, after the due moment
    assert "the next agenda, opening with why goals slipped" in text
    assert "<t:" not in text  # every timestamp rendered in the reader's own time
    assert "Your partner has left the server, so your partnership has ended" in text
    assert "members who left the server: 1" in text
    assert "profiles: 8" in text
    assert "actions that failed" not in text


def test_the_community_is_reproducible_and_spans_the_world() -> None:
    people = community(24, seed=7)
    assert people == community(24, seed=7)
    regions = {p.zone.split("/")[0] for p in people}
    assert {"America", "Europe", "Asia"} <= regions
    assert len({p.name for p in people}) == 24


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_member_count_is_refused_with_exit_2(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--members", value])
    assert caught.value.code == 2
    assert "--members" in capsys.readouterr().err
