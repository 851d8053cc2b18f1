"""The ``pairbot`` command line answers wrong usage with usage and status 2."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import __version__
from bot.__main__ import main
from bot.logs import RedactFilter


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PAIRBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: pairbot" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["dance"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_run_without_a_token_says_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "no Discord token" in err and "pairbot demo" in err


def test_migrate_creates_the_data_directory_and_database(tmp_path: Path) -> None:
    assert main(["migrate"]) == 0
    assert (tmp_path / "data" / "pairbot.sqlite3").is_file()


def test_log_lines_never_contain_the_token() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "header %s sent", ("Bot abc.def",), None
    )
    RedactFilter(["abc.def"]).filter(record)
    assert record.getMessage() == "header Bot [redacted] sent"
