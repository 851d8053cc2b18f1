"""Which custom ids the interaction guard reads as forged."""

from __future__ import annotations

from bot.interactions import _names_impossible_id


def test_a_random_view_id_with_a_long_run_of_digits_is_not_taken_for_a_forged_one() -> None:
    """Regression: discord.py's own custom ids are 32 random hex characters; one with 20 digits
    in a row was read as an impossible id, and its button answered "expired" (a flaky e2e)."""
    assert not _names_impossible_id("12345678901234567890abcdefabcdef")
    assert not _names_impossible_id("99999999999999999999999999999999")


def test_pairbot_ids_with_numbers_beyond_64_bits_are_forged() -> None:
    assert _names_impossible_id("pairbot:req:accept:" + "9" * 20)
    assert _names_impossible_id("pairbot:met:yes:9223372036854775808")
    assert not _names_impossible_id("pairbot:met:yes:9223372036854775807")
    assert not _names_impossible_id("pairbot:g:ci:12:done")
