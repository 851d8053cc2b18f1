"""The metrics a lead wires into the interaction path, and the health verdict, on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.metrics import Health, Metrics, TimedTicker


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def test_first_responses_fill_the_histogram_and_late_ones_count_as_missed() -> None:
    metrics = Metrics()
    created = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    metrics.first_response("goal add", created, created + timedelta(seconds=0.2))
    metrics.first_response("goal add", created, created + timedelta(seconds=3.4))
    metrics.dropped_too_old("goal add")
    assert value(metrics, "pairbot_command_first_response_seconds_count", command="goal add") == 2
    bucket = "pairbot_command_first_response_seconds_bucket"
    assert value(metrics, bucket, command="goal add", le="0.25") == 1
    assert value(metrics, "pairbot_deadlines_missed_total", command="goal add", why="late") == 1
    assert value(metrics, "pairbot_deadlines_missed_total", command="goal add", why="dropped") == 1


async def test_the_timed_ticker_times_each_handler_and_counts_failures() -> None:
    metrics = Metrics()
    ticker = TimedTicker(60, metrics)

    async def fine() -> None:
        return None

    async def broken() -> None:
        raise RuntimeError("boom")

    ticker.add_handler("fine", fine)
    ticker.add_handler("broken", broken)
    await ticker.tick()
    await ticker.tick()
    assert value(metrics, "pairbot_tick_seconds_count", handler="fine") == 2
    assert value(metrics, "pairbot_tick_seconds_count", handler="all") == 2
    assert value(metrics, "pairbot_tick_handler_failures_total", handler="broken") == 2
    assert metrics.last_tick_finished is not None


def test_health_is_unhealthy_when_disconnected_or_the_tick_is_stale() -> None:
    metrics = Metrics()
    connected = [True]
    health = Health(metrics, stale_after=30, connected=lambda: connected[0])
    assert health.report()[0]  # just started: no tick yet, not stale yet
    metrics.last_tick_finished = health.started - 31
    ok, body = health.report()
    assert not ok and body["problems"] == ["the last tick finished 31 s ago"]
    metrics.tick_finished()
    connected[0] = False
    ok, body = health.report()
    assert not ok and body["problems"] == ["not connected to Discord"]


def test_metrics_are_off_by_default_and_on_loopback() -> None:
    defaults = Settings()
    assert defaults.metrics_enabled is False
    assert defaults.metrics_host == "127.0.0.1"
    assert defaults.log_format == "text"
