"""A pytest plugin: every emulator exchange in every test is checked against Discord's spec.

Each REST exchange (the bot's request, the emulator's status and body) and each gateway dispatch
is queued as it happens (so the emulator's timing does not change) and checked by
:class:`~emulator.spec.checker.SpecChecker` at the test's teardown; a test during which any
mismatch appeared fails there with the list. The validators are compiled (or loaded from their
cache) when the session starts. Mismatches the spec itself gets wrong are in
:data:`~emulator.spec.checker.EXCEPTIONS`, each with its reason. A test that provokes an off-spec
exchange on purpose says so with ``@pytest.mark.spec_unchecked("why")``. The session ends with a
summary: exchanges checked, mismatches, exceptions used.

Enable with ``pytest_plugins = ["emulator.spec.pytest_plugin"]`` in the top conftest.
``PAIRBOT_SPEC_CHECK``: ``strict`` (the default: fail a test on a mismatch), ``report`` (check
and summarise, fail nothing), ``0`` (off). ``PAIRBOT_SPEC_DUMP=FILE`` writes every distinct
mismatch of the run, with its count, to FILE (to review a spec update in report mode).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from . import OBSERVERS, Exchange
from .checker import PATCHES, Mismatch, SpecChecker

MODE = os.environ.get("PAIRBOT_SPEC_CHECK", "strict")

#: How many distinct mismatches a failing test lists.
SHOWN = 15


class Recorder:
    """The installed observer. It only queues what it sees (the emulator's timing is the same
    with the check on as off); each test's exchanges are checked at its teardown."""

    def __init__(self) -> None:
        self._checker: SpecChecker | None = None
        self.pending: list[Exchange | tuple[str, str]] = []
        self.failed_tests = 0
        self.skipped: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()

    @property
    def checker(self) -> SpecChecker:
        if self._checker is None:
            self._checker = SpecChecker()
        return self._checker

    def rest(self, exchange: Exchange) -> None:
        self.pending.append(exchange)

    def dispatch(self, event: str, frame: str) -> None:
        self.pending.append((event, frame))

    def check_pending(self) -> list[Mismatch]:
        """Check everything queued since the last call; the mismatches found."""
        pending, self.pending = self.pending, []
        found: list[Mismatch] = []
        for item in pending:
            if isinstance(item, Exchange):
                found += self._rest(item)
            else:
                found += self._dispatch(*item)
        return found

    def _rest(self, exchange: Exchange) -> list[Mismatch]:
        if exchange.status >= 500:  # only injected faults answer 5xx; the spec documents none
            self.skipped["5xx (injected faults)"] += 1
            return []
        try:
            return self.checker.check_exchange(exchange)
        except Exception as exc:  # a checker bug must fail the test, not the emulator
            return [Mismatch(exchange.name, "$", f"checker error: {exc!r}")]

    def _dispatch(self, event: str, frame: str) -> list[Mismatch]:
        try:
            return self.checker.check_dispatch(event, json.loads(frame)["d"])
        except Exception as exc:
            return [Mismatch(f"gateway {event}", "$", f"checker error: {exc!r}")]


_RECORDER = Recorder()


def emulator_routes() -> list[tuple[str, str]]:
    """(method, template) of every REST route the emulator answers."""
    from ..rest import Rest

    routes: list[tuple[str, str]] = []

    class _Table(Rest):
        def __init__(self) -> None:  # only the route table: no world, no gateway
            self.routes = []
            self._register()

    for route in _Table().routes:
        routes.append((route.method, route.template))
    return routes


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spec_unchecked(reason): this test makes off-spec exchanges on purpose"
    )
    if MODE != "0" and _RECORDER not in OBSERVERS:
        OBSERVERS.append(_RECORDER)
        # Build and compile now, not inside the first requests of some timing-sensitive test.
        _RECORDER.checker.warm(emulator_routes())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _RECORDER in OBSERVERS:
        OBSERVERS.remove(_RECORDER)


def _describe(found: list[Mismatch]) -> str:
    counts = Counter(str(m) for m in found)
    lines = [f"  - {text}" + (f"  (x{n})" if n > 1 else "") for text, n in counts.most_common()]
    more = len(lines) - SHOWN
    shown = lines[:SHOWN] + ([f"  ... and {more} more"] if more > 0 else [])
    return "\n".join(shown)


@pytest.fixture(autouse=True)
def _spec_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect this test's mismatches; fail it at teardown if there are any."""
    # Exchanges from before this test (wider fixtures) are checked and counted, not blamed on it.
    _RECORDER.seen.update(str(m) for m in _RECORDER.check_pending())
    yield
    found = _RECORDER.check_pending()
    _RECORDER.seen.update(str(m) for m in found)
    if not found or request.node.get_closest_marker("spec_unchecked") is not None:
        return
    if MODE != "strict":
        return
    _RECORDER.failed_tests += 1
    pytest.fail(
        f"{len(found)} exchange(s) disagree with Discord's OpenAPI spec "
        f"(emulator/spec/openapi.json):\n{_describe(found)}",
        pytrace=False,
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _RECORDER not in OBSERVERS or _RECORDER._checker is None:
        return
    _RECORDER.seen.update(str(m) for m in _RECORDER.check_pending())
    checker = _RECORDER.checker
    write = terminalreporter.write_line
    terminalreporter.section("Discord API spec check")
    write(
        f"exchanges checked: {checker.checked['rest']} REST, {checker.checked['gateway']} "
        f"gateway dispatches; mismatches: {checker.mismatches['total']} "
        f"(tests failed by them: {_RECORDER.failed_tests}); "
        f"{len(checker.exceptions)} documented exceptions and {len(PATCHES)} spec patches; "
        f"checking took {checker.seconds:.1f}s of the run's {time.process_time():.1f}s CPU "
        f"({100 * checker.seconds / max(time.process_time(), 1e-9):.1f}%)"
    )
    unchecked = sorted(k.removeprefix("gateway unchecked ") for k in checker.checked if " " in k)
    if unchecked:
        write(f"dispatches with no REST object to check: {', '.join(unchecked)}")
    for what, n in _RECORDER.skipped.items():
        write(f"not checked: {n} {what}")
    dump = os.environ.get("PAIRBOT_SPEC_DUMP")
    if dump:
        with open(dump, "w", encoding="utf-8") as f:
            for text, n in _RECORDER.seen.most_common():
                f.write(f"{n}\t{text}\n")
    for exception, n in checker.exceptions_used.most_common():
        write(f"exception used {n}x: {exception.where} {exception.path}: {exception.reason}")
