"""/admin schedule names scheduled work in a moderator's words, never by internal kind names."""

from __future__ import annotations

import importlib
import pkgutil

import bot.services
from bot.services import outbox
from cogs.admin import KIND_WORDS


def test_every_kind_of_scheduled_work_has_words_for_moderators() -> None:
    """Regression: /admin schedule showed `checkin_plan`, `goal_review` and the like. A kind
    added without words fails here, not in front of a moderator."""
    for module in pkgutil.iter_modules(bot.services.__path__):
        importlib.import_module(f"bot.services.{module.name}")
    missing = sorted(set(outbox.KINDS) - set(KIND_WORDS))
    assert not missing, f"add words for {missing} to cogs.admin.KIND_WORDS"
    for kind, words in KIND_WORDS.items():
        assert "_" not in words and words[0].isupper(), (kind, words)
