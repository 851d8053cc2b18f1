"""Settings: ``config.toml`` (or ``--config`` / ``PAIRBOT_CONFIG``) with environment overrides.

Precedence, highest first: environment variables (``PAIRBOT_<KEY>``), the config file, defaults.
A bad file or value raises :class:`ConfigError` whose message is one line naming the key, the
problem and the fix; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "PAIRBOT_"
DEFAULT_CONFIG_NAME = "config.toml"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]

_file_data: ContextVar[dict[str, Any]] = ContextVar("pairbot_config_file_data")


class ConfigError(Exception):
    """A configuration problem, described in one line fit for the operator."""


class Settings(BaseSettings):
    """Every setting pairbot reads. ``config.example.toml`` documents each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False, validate_default=True
    )

    token: SecretStr | None = None
    dev_guild_id: int | None = Field(default=None, gt=0)
    data_dir: Path = Path("data")
    database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=10, ge=0, le=500)
    database_connect_timeout: float = Field(default=10.0, gt=0, le=300)
    # Seconds a command may wait for a free pooled connection before the member is told,
    # politely, that nothing was saved and to try again.
    database_pool_timeout: float = Field(default=30.0, gt=0, le=300)
    migrate_on_start: bool = True
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    # Operators' endpoints (/healthz, /metrics): off unless asked for, on loopback by default.
    metrics_enabled: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9108, ge=0, le=65_535)
    tick_seconds: float = Field(default=15.0, gt=0, le=3600)
    claim_batch_size: int = Field(default=100, ge=1, le=10_000)
    lease_seconds: float = Field(default=120.0, ge=5, le=86_400)
    send_rate_per_second: float = Field(default=40.0, gt=0, le=50)
    # The privileged Server Members intent, if turned on in the developer portal too: departures
    # are then handled as they happen. Off by default: they are found out on delivery.
    members_intent: bool = False
    # Sharding (docs/running-a-large-community.md): how many shards the bot has in all, and
    # which of them this process runs (all of them when unset).
    shard_count: int | None = Field(default=None, ge=1, le=10_000)
    shard_ids: list[int] | None = None
    api_base_url: str | None = None
    gateway_url: str | None = None
    # Tests only: read "now" from this file instead of the system clock (bot.clock.FileClock),
    # so that a test can move time for several `pairbot run` processes at once.
    clock_file: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """``PAIRBOT_SHARD_IDS=0,1`` as well as the TOML list ``[0, 1]``."""
        if isinstance(value, str):
            parts = [p.strip() for p in value.strip().strip("[]").split(",") if p.strip()]
            return [int(p) if p.lstrip("-").isdigit() else p for p in parts]
        return value

    @field_validator("shard_ids")
    @classmethod
    def _ids_within_count(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if value is None:
            return None
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("needs shard_count too (how many shards the bot has in all)")
        if not value:
            raise ValueError("lists no shard; leave it out to run every shard")
        if len(set(value)) != len(value):
            raise ValueError("lists a shard twice")
        if not all(0 <= i < count for i in value):
            raise ValueError(f"each shard id must be 0 to {count - 1} (shard_count is {count})")
        return sorted(value)

    @property
    def shards(self) -> tuple[int, list[int]] | None:
        """``(shard_count, this process's shard ids)``, or ``None`` for an unsharded bot."""
        if self.shard_count is None:
            return None
        return self.shard_count, self.shard_ids or list(range(self.shard_count))

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            return value
        raise ValueError(
            "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (or postgresql://)"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, init_kwargs=_file_data.get({}))
        return (init_settings, env_settings, file_source)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pairbot.sqlite3').resolve()}"


def config_path(explicit: Path | None) -> Path | None:
    """Which file to read: ``--config``, else ``PAIRBOT_CONFIG``, else ``./config.toml`` if any."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; create it from config.example.toml "
            "or leave out --config/PAIRBOT_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix that line") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None


def _relative_to(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A relative ``data_dir`` in a config file means next to that file, not wherever the
    process happens to start (a systemd unit's working directory, a cron job's home)."""
    value = data.get("data_dir")
    if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
        data = {**data, "data_dir": str(path.resolve().parent / value)}
    elif isinstance(value, str) and value.startswith("~"):
        data = {**data, "data_dir": str(Path(value).expanduser())}
    return data


def _describe(error: ErrorDetails, source: str) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(file)"
    env_name = ENV_PREFIX + key.upper()
    if error["type"] == "extra_forbidden":
        return (
            f"config error: unknown key '{key}' in {source}; "
            "check the spelling against config.example.toml or remove it"
        )
    problem = str(error["msg"]).removeprefix("Value error, ")
    shown = "" if key == "token" else f" (got {error.get('input')!r})"
    return f"config error: {key}: {problem}{shown}; fix it in {source} or set {env_name}"


def load_settings(explicit: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise :class:`ConfigError` with a one-line message."""
    path = config_path(explicit)
    data = _read_file(path) if path is not None else {}
    if path is not None:
        data = _relative_to(path, data)
    source = str(path) if path is not None else "the environment"
    token = _file_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], source)) from None
    finally:
        _file_data.reset(token)
