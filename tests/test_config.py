"""An operator configures pairbot with a file and the environment, and a mistake gets one clear
line instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PAIRBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_use_an_sqlite_file_in_the_data_directory() -> None:
    settings = load_settings()
    assert settings.token is None
    assert settings.log_level == "INFO"
    assert settings.migrate_on_start is True
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("data/pairbot.sqlite3")


def test_config_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", 'log_level = "debug"\ntick_seconds = 5\n')
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.tick_seconds == 5


def test_explicit_path_beats_environment_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.toml", "tick_seconds = 7\n")
    write(tmp_path / "b.toml", "tick_seconds = 9\n")
    monkeypatch.setenv("PAIRBOT_CONFIG", str(tmp_path / "b.toml"))
    assert load_settings().tick_seconds == 9
    assert load_settings(tmp_path / "a.toml").tick_seconds == 7


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", 'tick_seconds = 5\ndatabase_url = "sqlite+aiosqlite:///x.db"\n')
    monkeypatch.setenv("PAIRBOT_TICK_SECONDS", "11")
    monkeypatch.setenv("PAIRBOT_DATABASE_URL", "postgresql://bot@db/pairbot")
    monkeypatch.setenv("PAIRBOT_TOKEN", "secret-token-value")
    settings = load_settings()
    assert settings.tick_seconds == 11
    assert settings.resolved_database_url == "postgresql+asyncpg://bot@db/pairbot"
    assert settings.token is not None
    assert settings.token.get_secret_value() == "secret-token-value"
    assert "secret-token-value" not in repr(settings)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('log_level = "loud"\n', "log_level: Input should be"),
        ('colour = "red"\n', "unknown key 'colour'"),
        ("tick_seconds = -1\n", "tick_seconds: Input should be greater than 0"),
        ('database_url = "mysql://x"\n', "database_url: must start with"),
        ("migrate_on_start = 3\n", "migrate_on_start:"),
        ("log_level = \n", "is not valid TOML"),
    ],
)
def test_each_bad_value_gives_one_line_naming_key_and_fix(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path / "bad.toml", body)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert str(path) in message


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_check_config_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "bad.toml", "claim_batch_size = 0\n")
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "claim_batch_size" in err and "Traceback" not in err


def test_check_config_never_prints_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRBOT_TOKEN", "MTIz.very-secret")
    assert main(["check-config"]) == 0
    out = capsys.readouterr()
    assert "token: set" in out.out
    assert "very-secret" not in out.out + out.err


def test_a_bad_token_type_is_reported_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "token = 12345\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "token" in str(caught.value)
    assert "12345" not in str(caught.value)


def test_the_example_file_is_valid_and_documents_every_key() -> None:
    from bot.config import Settings

    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    load_settings(example)
    text = example.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"{name} =" not in text]
    assert missing == []


def test_a_relative_data_dir_in_a_config_file_is_next_to_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: ``data_dir = "data"`` followed the working directory, so a service started
    from elsewhere (systemd, cron) silently made a new, empty database."""
    folder = tmp_path / "etc" / "pairbot"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('data_dir = "state"\n', encoding="utf-8")
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(folder / "config.toml")
    assert settings.data_dir == folder.resolve() / "state"
    assert settings.resolved_database_url.endswith(f"{folder.resolve()}/state/pairbot.sqlite3")
    (folder / "config.toml").write_text(f'data_dir = "{tmp_path}/abs"\n', encoding="utf-8")
    assert load_settings(folder / "config.toml").data_dir == tmp_path / "abs"


def test_shards_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().shards is None
    write(tmp_path / "config.toml", "shard_count = 4\nshard_ids = [3, 2]\n")
    assert load_settings().shards == (4, [2, 3])
    monkeypatch.setenv("PAIRBOT_SHARD_IDS", "0,1")
    assert load_settings().shards == (4, [0, 1])
    monkeypatch.delenv("PAIRBOT_SHARD_IDS")
    write(tmp_path / "config.toml", "shard_count = 2\n")
    assert load_settings().shards == (2, [0, 1])  # every shard in this process


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("shard_ids = [0]\n", "shard_ids: needs shard_count too"),
        ("shard_count = 2\nshard_ids = [2]\n", "each shard id must be 0 to 1"),
        ("shard_count = 2\nshard_ids = [1, 1]\n", "lists a shard twice"),
        ("shard_count = 2\nshard_ids = []\n", "lists no shard"),
        ("shard_count = 0\n", "shard_count: Input should be greater than or equal to 1"),
    ],
)
def test_bad_shards_get_one_line(tmp_path: Path, body: str, expected: str) -> None:
    write(tmp_path / "config.toml", body)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_the_bot_is_told_its_shards() -> None:
    from bot.app import shard_options

    assert shard_options(load_settings()) == {}
    one = load_settings(shard_count=4, shard_ids=[2])
    assert shard_options(one) == {"shard_id": 2, "shard_count": 4}
    several = load_settings(shard_count=4, shard_ids=[0, 1])
    assert shard_options(several) == {"shard_ids": [0, 1], "shard_count": 4}
    assert shard_options(load_settings(shard_count=1)) == {"shard_id": 0, "shard_count": 1}
