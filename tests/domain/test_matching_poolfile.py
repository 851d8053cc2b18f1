"""The pool file and `pairbot match`: the documented example matches, bad input gets one clear
line naming the member and the field, and the result and edge files say what the round did."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- any malformed file
# A deeply nested or non-UTF-8 pool file, or a wrong type deep inside one, used to end in a
# traceback (exit 1). Every malformed file now gives one line on stderr and exit 2.

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded JSON document, as a key path."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


EXAMPLE_PATHS = _paths(example())


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def _exits_cleanly(pool: Path, capsys: pytest.CaptureFixture[str]) -> int:
    code = main(pool, pool.with_suffix(".out"), None, seed=0)
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("pairbot match: "), err
    else:
        assert err == ""
    return code


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), JSON_VALUES), min_size=1,
                       max_size=3))
def test_a_wrong_type_at_any_depth_gives_one_line_and_exit_2_never_a_traceback(
    changes: list[tuple[tuple[Any, ...], Any]], tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data: Any = example()
    for path, value in changes:
        try:
            data = _replaced(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this place
    pool = tmp_path_factory.mktemp("fuzz") / "pool.json"
    pool.write_text(json.dumps(data), encoding="utf-8")
    _exits_cleanly(pool, capsys)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"members": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "nested too deeply"),
        ('{"members": [{"id": "j\xf6rg"}]}'.encode("latin-1"), "not UTF-8 text (byte 22 is 0xf6)"),
        (b'{"members": [{"id": "a", "zone": "UTC", "availability": [{"day": 0, "start": '
         + b"9" * 5_000 + b', "end": 60}]}]}', "not valid JSON"),
        (b'{"now": "9999-12-31T00:00:00Z", "members": []}', "now: must be in the years"),
        (b'{"settings": {"weights": {"waiting": 1e308}}, "members": []}',
         "settings.weights.waiting: must be a number from 0 to 100"),
        (b'{"members": [{"id": "a\\nb", "zone": 5}]}', "a\\nb zone: must be a non-empty string"),
        # JSON can escape a lone surrogate, which no UTF-8 output can hold (was a traceback
        # when the result was written).
        (b'{"members": [{"id": "\\ud800", "zone": "UTC", "availability": []}]}',
         "members[0] id: must be a non-empty string of valid Unicode"),
        (b'{"members": [{"id": "a", "zone": "UTC", "availability": [], '
         b'"goal_areas": ["x\\udfff"]}]}', "a goal_areas: must be a non-empty string of valid"),
        (b'{"members": [{"id": "a", "zone": "UTC", "availability": [], '
         b'"past_partners": [{"id": "\\ud83d"}]}]}', "a past_partners[0].id: must be"),
        ('{"members": []}'.encode("utf-16"), "not UTF-8 text (byte 0 is 0xff)"),
        (b"", "not valid JSON (line 1, column 1)"),
        (b"\xef\xbb\xbf", "not valid JSON"),
        (b"[]", "must be a JSON object with 'members'"),
        (b'{"members": "abc"}', "pool members: must be a list"),
        (b'{"members": [5]}', "members[0] member: must be an object"),
        (b'{"members": [{"id": "a", "zone": "UTC", "availability": ' + b"[" * 900 + b"]" * 900
         + b"}]}", "a availability[0]: must be an object"),
        (b'{"settings": {"k": 1e400}, "members": []}', "settings.k: must be an integer"),
        # Settings that would ask for a solve without end (they were accepted, exit 0).
        (b'{"settings": {"k": 100000000000000000000000}, "members": []}',
         "settings.k: must be at least 1 and at most 200"),
        (b'{"settings": {"exact_max_members": 100000000000000000000}, "members": []}',
         "settings.exact_max_members: must be at least 0 and at most 2000"),
        (b'{"settings": {"exact_candidates_max_members": 10000000}, "members": []}',
         "settings.exact_candidates_max_members: must be at least 0 and at most 5000"),
        (b'{"settings": {"repeat_window_days": 99999999}, "members": []}',
         "settings.repeat_window_days: must be at least 0 and at most 3650"),
    ],
)
def test_a_nested_non_utf8_or_out_of_range_pool_gives_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    pool = tmp_path / "pool.json"
    pool.write_bytes(content)
    assert _exits_cleanly(pool, capsys) == 2
    pool.write_bytes(content)
    main(pool, None, None, seed=0)
    assert says in capsys.readouterr().err


def test_the_command_line_prints_no_traceback_for_a_deeply_nested_pool(tmp_path: Path) -> None:
    import subprocess
    import sys

    pool = tmp_path / "pool.json"
    pool.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    run = subprocess.run([sys.executable, "-m", "bot", "match", "--pool", str(pool)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 2
    assert run.stderr == "pairbot match: pool file: nested too deeply to be a pool file\n"
