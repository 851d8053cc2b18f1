"""Regression (issue 13): a database or network failure at start-up (`pairbot run`, `pairbot
migrate`) ended in a traceback. Each is now one line saying what to check, and status 2.
Real failures: a PostgreSQL port nobody listens on, a listener on loopback that never answers,
folders SQLite can't use, a read-only database file."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.__main__ import main
from tests.dbutil import TEST_DATABASE_URL, on_postgres
from tests.test_cli import isolated  # noqa: F401  (no PAIRBOT_* from outside, cwd in tmp)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRBOT_TOKEN", "not-a-real-token")  # run fails before Discord


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback listener that completes the TCP handshake (the kernel's backlog) and then
    never says a word: a host that is there but does not answer."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def read_only_database(tmp: Path) -> str:
    database = tmp / "ro.sqlite3"
    sqlite3.connect(database).close()
    return f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true"


# name -> (environment, given the closed port, the silent port and tmp_path; the line's start)
Case = Callable[[int, int, Path], tuple[dict[str, str], str]]
CASES: dict[str, Case] = {
    "postgresql on a closed port": lambda closed, _s, _t: (
        {"PAIRBOT_DATABASE_URL": f"postgresql+asyncpg://pairbot:s3cret@127.0.0.1:{closed}/x"},
        f"pairbot: PostgreSQL refused the connection at 127.0.0.1:{closed}",
    ),
    "postgresql host that never answers": lambda _c, silent, _t: (
        {
            "PAIRBOT_DATABASE_URL": f"postgresql://pairbot@127.0.0.1:{silent}/x",
            "PAIRBOT_DATABASE_CONNECT_TIMEOUT": "0.5",
        },
        f"pairbot: PostgreSQL at 127.0.0.1:{silent} did not answer in time",
    ),
    # /sys refuses new folders even to root (the tests may run as root, so no chmod here).
    "a data directory that cannot be created": lambda _c, _s, _t: (
        {"PAIRBOT_DATA_DIR": "/sys/pairbot-test/data"},
        "pairbot: cannot write to the data directory /sys/pairbot-test/data",
    ),
    "a data directory below a file": lambda _c, _s, tmp: (
        {"PAIRBOT_DATA_DIR": str(tmp / "taken" / "data")},
        f"pairbot: cannot use the data directory {tmp / 'taken' / 'data'}",
    ),
    "a read-only sqlite database": lambda _c, _s, tmp: (
        {"PAIRBOT_DATABASE_URL": read_only_database(tmp)},
        f"pairbot: cannot open or write the SQLite database {tmp / 'ro.sqlite3'}",
    ),
}


@pytest.mark.parametrize("command", ["run", "migrate"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_database_failure_at_start_up_is_one_line_and_status_2(
    case: str,
    command: str,
    closed_port: int,
    silent_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    env, start = CASES[case](closed_port, silent_port, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main([command]) == 2
    line = one_line(capsys)
    assert line.startswith(start), line
    assert "s3cret" not in line  # never the password


@pytest.mark.skipif(not on_postgres(), reason="needs a PostgreSQL server to ask")
def test_a_missing_postgresql_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url(TEST_DATABASE_URL or "").set(database="pairbot_no_such_database")
    monkeypatch.setenv("PAIRBOT_DATABASE_URL", url.render_as_string(hide_password=False))
    assert main(["migrate"]) == 2
    assert one_line(capsys).startswith(
        "pairbot: the PostgreSQL database 'pairbot_no_such_database' does not exist"
    )
