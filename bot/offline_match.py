"""`pairbot match`: match a pool file with no Discord and no database, through the same
`match_pool` code path as the rounds. File reading and writing live here, not in bot/domain."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.domain.matching import allowed_pairs, match_pool
from bot.domain.matching.poolfile import POOL, PoolFormatError, parse_pool, result_to_json

EXIT_OK = 0
EXIT_BAD_INPUT = 2


MAX_SHOWN = 300
"""Characters of a problem line kept (a file can echo megabytes of its own content)."""


def _one_line(text: str) -> str:
    """Control characters escaped (a member id may hold a newline), long text cut."""
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 1] + "…"


def _fail(member: str, field: str, problem: str) -> int:
    print(_one_line(f"pairbot match: {member} {field}: {problem}"), file=sys.stderr)
    return EXIT_BAD_INPUT


def main(pool: Path, out: Path | None, edges: Path | None, seed: int) -> int:
    """Match `pool`; write the result JSON to `out` (stdout when None) and, when asked, every
    allowed pair with its score to `edges` (JSON Lines). 0 on success, 2 on bad input."""
    started = time.perf_counter()
    try:
        content = pool.read_bytes()
    except OSError as exc:
        return _fail(POOL, "file", f"cannot read {pool}: {exc.strerror or exc}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = content[exc.start]
        return _fail(POOL, "file", f"not UTF-8 text (byte {exc.start} is 0x{byte:02x})")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(POOL, "file", f"not valid JSON (line {exc.lineno}, column {exc.colno})")
    except RecursionError:
        return _fail(POOL, "file", "nested too deeply to be a pool file")
    except ValueError as exc:  # e.g. a number with more digits than Python converts
        return _fail(POOL, "file", f"not valid JSON ({exc})")
    try:
        parsed = parse_pool(raw)
    except PoolFormatError as exc:
        return _fail(exc.member, exc.field, exc.problem)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A check parse_pool lacks: still one line, never a traceback.
        return _fail(POOL, "file", f"cannot be used ({type(exc).__name__}: {exc})")
    now = parsed.now or datetime.now(UTC)
    result = match_pool(parsed.seekers, parsed.settings, now=now, seed=seed)
    data = result_to_json(result, seed=seed, now=now)
    if edges is not None:
        t0 = time.perf_counter()
        with edges.open("w", encoding="utf-8") as fh:
            for a, b, score in allowed_pairs(parsed.seekers, parsed.settings, now=now):
                fh.write(json.dumps({"a": a, "b": b, "score": score}) + "\n")
        data["timing"]["edges_s"] = round(time.perf_counter() - t0, 4)
    data["timing"]["total_s"] = round(time.perf_counter() - started, 4)
    rendered = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(rendered)
    else:
        out.write_text(rendered, encoding="utf-8")
    return EXIT_OK
