"""``pairbot backup``: SQLite's online backup while a writer is in the middle of a transaction
gives a complete, consistent copy of what was committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.__main__ import main
from tests.test_cli import isolated  # noqa: F401  (no PAIRBOT_* from outside, cwd in tmp)


def test_backup_copies_what_was_committed_while_another_writer_holds_a_transaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    database = tmp_path / "data" / "pairbot.sqlite3"
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute(
        "INSERT INTO members (guild_id, user_id, dms_closed, pool_status, priority, "
        "forum_post_stale, goal_areas, languages, created_at, updated_at) VALUES "
        "(1, 7, 0, 'idle', 0, 0, '[]', '[]', '2026-01-05', '2026-01-05')"
    )
    writer.execute("BEGIN IMMEDIATE")  # the running bot, mid-write
    writer.execute("UPDATE members SET display_name = 'uncommitted'")
    try:
        assert main(["backup", str(tmp_path / "backups" / "copy.sqlite3")]) == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert capsys.readouterr().out.splitlines()[-1].startswith("backed up ")
    copy = sqlite3.connect(tmp_path / "backups" / "copy.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT user_id, display_name FROM members").fetchall() == [(7, None)]
    assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    copy.close()


def test_backup_of_postgresql_points_at_pg_dump(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRBOT_DATABASE_URL", "postgresql://pairbot@127.0.0.1/pairbot")
    assert main(["backup", "x.sqlite3"]) == 2
    assert "pg_dump" in capsys.readouterr().err
