"""The pool file and `pairbot match`: the documented example matches, bad input gets one clear
line naming the member and the field, and the result and edge files say what the round did."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain.matching.poolfile import PoolFormatError, parse_pool
from bot.offline_match import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "example-pool.json"


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return data


def test_the_documented_example_parses_with_every_field() -> None:
    pool = parse_pool(example())
    assert len(pool.seekers) == 7
    ana = next(s for s in pool.seekers if s.id == "ana")
    assert ana.partner_genders == frozenset({"woman", "nonbinary"})
    assert ana.past_partners[0].partner_id == "ben"
    assert pool.settings.odd_policy == "trio"
    assert pool.now is not None


def test_matching_the_example_writes_groups_unmatched_totals_and_edges(tmp_path: Path) -> None:
    out, edges = tmp_path / "result.json", tmp_path / "edges.jsonl"
    assert main(EXAMPLE, out, edges, seed=0) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["format"] == "pairbot-result/1"
    placed = [m for g in result["groups"] for m in g["members"]] + [
        u["id"] for u in result["unmatched"]
    ]
    assert sorted(placed) == sorted(m["id"] for m in example()["members"])
    assert {u["id"]: u["reason"] for u in result["unmatched"]}["gus"] == "no_overlap"
    assert result["totals"]["members"] == 7 and "solve_s" in result["timing"]
    group = result["groups"][0]
    assert group["explanation"]["weeks"][0]["intervals"]
    lines = [json.loads(line) for line in edges.read_text(encoding="utf-8").splitlines()]
    assert lines and all(set(e) == {"a", "b", "score"} for e in lines)
    allowed = {(e["a"], e["b"]) for e in lines}
    for g in result["groups"]:
        a, b = sorted(g["members"])[:2]
        assert (a, b) in allowed
    # Private fields never reach the result file.
    text = out.read_text(encoding="utf-8")
    for secret in ("woman", "nonbinary", "25-34", "age_bracket", "partner_genders"):
        assert secret not in text


def test_the_same_pool_and_seed_give_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    assert main(EXAMPLE, first, None, seed=3) == 0
    assert main(EXAMPLE, second, None, seed=3) == 0

    def without_timing(p: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        data.pop("timing")
        return data

    assert without_timing(first) == without_timing(second)


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(example())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "member", "field"),
    [
        (lambda d: d["members"][1].update(zone="Mars/Olympus"), "ben", "zone"),
        (lambda d: d["members"][0]["availability"][1].update(end="17:00"), "ana",
         "availability[1].end"),
        (lambda d: d["members"][0]["availability"][0].update(day="someday"), "ana",
         "availability[0].day"),
        (lambda d: d["members"][2].update(rhythm="daily"), "chloe", "rhythm"),
        (lambda d: d["members"][3]["preferences"].update(partner_age_brackets=["30-40"]), "dev",
         "preferences.partner_age_brackets"),
        (lambda d: d["members"][0]["past_partners"][0].update(ended="yesterday"), "ana",
         "past_partners[0].ended"),
        (lambda d: d["members"][4].update(waiting_since="2026-03-15T22:00:00"), "emi",
         "waiting_since"),
        (lambda d: d["members"][5].update(id="ana"), "ana", "id"),
        (lambda d: d["settings"].update(odd_policy="lottery"), "pool", "settings.odd_policy"),
        (lambda d: d["settings"]["weights"].update(overlap=-1), "pool",
         "settings.weights.overlap"),
        (lambda d: d["settings"].update(colour="blue"), "pool", "settings.colour"),
        (lambda d: d["members"][6].pop("id"), "members[6]", "id"),
    ],
)
def test_malformed_input_names_the_member_and_the_field(
    change: Any, member: str, field: str
) -> None:
    with pytest.raises(PoolFormatError) as caught:
        parse_pool(broken(change))
    assert (caught.value.member, caught.value.field) == (member, field)


def test_bad_input_exits_2_with_one_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps(broken(lambda d: d["members"][1].update(zone="Mars/Olympus"))),
                    encoding="utf-8")
    assert main(pool, tmp_path / "out.json", None, seed=0) == 2
    err = capsys.readouterr().err
    assert err == "pairbot match: ben zone: unknown IANA time zone 'Mars/Olympus'\n"
    assert not (tmp_path / "out.json").exists()

    pool.write_text("{not json", encoding="utf-8")
    assert main(pool, None, None, seed=0) == 2
    assert capsys.readouterr().err.startswith("pairbot match: pool file: not valid JSON")
