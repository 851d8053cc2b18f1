"""The architecture holds: pure domain logic, services that know nothing of Discord, thin cogs,
and an emulator that knows nothing of the bot. Checked on the source, import by import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Modules that touch files, sockets, processes, databases or Discord.
IO_MODULES = {
    "os",
    "pathlib",
    "io",
    "shutil",
    "tempfile",
    "socket",
    "ssl",
    "subprocess",
    "asyncio",
    "sqlite3",
    "urllib",
    "http",
    "requests",
    "aiohttp",
    "discord",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "apscheduler",
    "tomllib",
    "pickle",
    "shelve",
    "glob",
}
IO_BUILTINS = {"open", "input", "print", "exec", "eval", "__import__"}


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def offenders(folder: str, banned: set[str]) -> list[str]:
    found = []
    for path in python_files(folder):
        for line, module in imports(path):
            if module.split(".")[0] in banned or module in banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_domain_does_no_io() -> None:
    assert python_files("bot/domain"), "bot/domain is missing"
    bad = offenders("bot/domain", IO_MODULES | {"models", "cogs", "emulator"})
    bad += offenders("bot/domain", {"bot.services", "bot.db", "bot.app", "bot.scheduler"})
    for path in python_files("bot/domain"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in IO_BUILTINS
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.id}()")
    assert bad == []


@pytest.mark.parametrize("folder", ["bot/services", "models", "bot/domain"])
def test_services_and_models_never_import_discord(folder: str) -> None:
    assert offenders(folder, {"discord", "cogs", "emulator", "bot.app", "bot.interactions"}) == []


def test_cogs_are_thin_glue_without_sql() -> None:
    """Cogs parse, open a unit of work, call a service and render: queries live in services."""
    assert offenders("cogs", {"sqlalchemy", "models", "emulator"}) == []


def test_emulator_knows_nothing_of_the_bot() -> None:
    if not (ROOT / "emulator").is_dir():
        pytest.skip("no emulator yet")
    assert offenders("emulator", {"bot", "cogs", "models", "migrations"}) == []


def test_the_layering_check_itself_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom discord import ui\n", encoding="utf-8")
    assert [m for _, m in imports(sample)] == ["os", "discord"]
