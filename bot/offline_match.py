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


def _fail(member: str, field: str, problem: str) -> int:
    print(f"pairbot match: {member} {field}: {problem}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(pool: Path, out: Path | None, edges: Path | None, seed: int) -> int:
    """Match `pool`; write the result JSON to `out` (stdout when None) and, when asked, every
    allowed pair with its score to `edges` (JSON Lines). 0 on success, 2 on bad input."""
    started = time.perf_counter()
    try:
        text = pool.read_text(encoding="utf-8")
    except OSError as exc:
        return _fail(POOL, "file", f"cannot read {pool}: {exc.strerror or exc}")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(POOL, "file", f"not valid JSON (line {exc.lineno}, column {exc.colno})")
    try:
        parsed = parse_pool(raw)
    except PoolFormatError as exc:
        return _fail(exc.member, exc.field, exc.problem)
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
