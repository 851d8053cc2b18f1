"""A large community's database, built fast: the real schema (Alembic upgrade, as
``pairbot migrate``), then bulk inserts with SQLAlchemy Core.

``python -m bench.bigdb --members 10000 [--database-url URL]``

4 guilds (40/30/20/10 % of members), the simulator's profiles (``bot.simulation.people``),
about 4 goals a member (past cycles reviewed, the current one open and due in 2-9 days),
partnerships (half the members: active, trial, proposed; plus ended history), meetings, and an
outbox of about 8-9 rows a member: most sent or done, the rest pending (the plans, meetings and
upkeep a healthy bot keeps queued), all due at least two days after the build. A few members'
planning rows are "lost" (an open goal overdue and unreviewed), so the goals sweep has work.

Ids are fixed (guild ``GUILD_BASE + i``, user ``USER_BASE + member id``) so that an emulator
can be built to match a cached copy.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, text

from bot.db import create_engine
from bot.domain.recurrence import occurrence_key
from bot.migrate import upgrade
from bot.services.outbox import delivery_payload, key_target
from bot.services.ports import OutgoingMessage
from bot.simulation.people import community
from models import (
    CheckIn,
    Goal,
    GuildSettings,
    MatchRound,
    Meeting,
    MeetingAnswer,
    Member,
    MemberPrivate,
    OutboxItem,
    Partnership,
    PartnershipMember,
    RoundStanding,
)

VERSION = "v1"  # bump when the generated data changes (cached copies are rebuilt)
GUILD_SHARES = (0.4, 0.3, 0.2, 0.1)
GUILD_BASE = 1_350_000_000_000_000_000
USER_BASE = 1_360_000_000_000_000_000
THREAD_BASE = 1_370_000_000_000_000_000
CHUNK = 5000
LOST_PLAN_SHARE = 0.002


def guild_ids() -> list[int]:
    return [GUILD_BASE + i for i in range(len(GUILD_SHARES))]


def user_id(member_id: int) -> int:
    return USER_BASE + member_id


def guild_sizes(members: int) -> list[int]:
    sizes = [int(members * s) for s in GUILD_SHARES]
    sizes[0] += members - sum(sizes)
    return sizes


@dataclass
class Built:
    url: str
    members: int
    rows: dict[str, int]
    seconds: float
    cpu: float
    # Per guild: member ids by role (the benchmark picks its members from these).
    partnered: dict[int, list[int]] = field(default_factory=dict)
    seeking: dict[int, list[int]] = field(default_factory=dict)


def _msg(content: str) -> dict[str, Any]:
    return delivery_payload(OutgoingMessage(content=content))


class Generator:
    def __init__(self, members: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now.replace(microsecond=0)
        self.people = community(members, seed, late_share=0.0)
        self.sizes = guild_sizes(members)
        self.ids = {"goal": 0, "checkin": 0, "pair": 0, "meeting": 0, "outbox": 0}
        self.partnered: dict[int, list[int]] = {g: [] for g in guild_ids()}
        self.seeking: dict[int, list[int]] = {g: [] for g in guild_ids()}

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def settings(self) -> list[dict[str, Any]]:
        return [
            {"guild_id": g, "goal_areas": ["fitness", "study", "career", "writing", "creative",
             "habits"], "match_weekday": (self.now.weekday() + 3) % 7, "match_time_utc": "17:00",
             "repeat_window_days": 90, "odd_policy": "carry_over", "min_overlap_minutes": 60,
             "trial_days": 14, "proposal_hours": 72, "ghost_weeks": 3,
             "created_at": self.now - timedelta(days=200), "updated_at": self.now}
            for g in guild_ids()
        ]  # fmt: skip

    def chunks(self) -> Iterator[dict[Table, list[dict[str, Any]]]]:
        member_id = 0
        for gid, size in zip(guild_ids(), self.sizes, strict=True):
            done = 0
            while done < size:
                n = min(CHUNK, size - done)
                ids = list(range(member_id + 1, member_id + n + 1))
                member_id += n
                done += n
                yield self.block(gid, ids)

    def block(self, gid: int, ids: list[int]) -> dict[Table, list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        t: dict[str, list[dict[str, Any]]] = {k: [] for k in (
            "members", "private", "goals", "checkins", "pairs", "pms", "meetings", "answers",
            "standings", "outbox")}  # fmt: skip
        roles = {}
        for mid in ids:
            r = rng.random()
            roles[mid] = (
                "partnered" if r < 0.5 else "seeking" if r < 0.75 else "paused" if r < 0.8
                else "idle"
            )  # fmt: skip
        for mid in ids:
            p = self.people[mid - 1]
            role = roles[mid]
            pool = {"seeking": "seeking", "paused": "paused"}.get(role, "idle")
            t["members"].append({
                "id": mid, "guild_id": gid, "user_id": user_id(mid), "display_name": p.name,
                "timezone": p.zone, "availability": p.availability,
                "goal_areas": list(p.goal_areas), "intro": p.intro,
                "goals_text": "; ".join(p.goals), "rhythm": p.rhythm, "medium": p.medium,
                "languages": list(p.languages), "dms_closed": rng.random() < 0.02,
                "pool_status": pool,
                "paused_until": now + timedelta(days=rng.randint(3, 30)) if pool == "paused"
                else None,
                "waiting_since": now - timedelta(days=rng.randint(0, 20)) if pool == "seeking"
                else None,
                "priority": False, "forum_post_id": None, "forum_post_stale": False,
                "checkin_weekday": None, "checkin_time": None,
                "created_at": now - timedelta(days=rng.randint(30, 300)), "updated_at": now,
            })  # fmt: skip
            if p.private:
                t["private"].append({
                    "member_id": mid, "gender": p.private.get("gender"),
                    "age_bracket": p.private.get("age"),
                    "pref_genders": [p.private["partner_genders"]]
                    if "partner_genders" in p.private else [],
                    "pref_age_min": None, "pref_age_max": None, "pref_languages": [],
                })  # fmt: skip
            if role == "seeking":
                self.seeking[gid].append(mid)
                t["standings"].append({
                    "member_id": mid, "guild_id": gid, "spell": None,
                    "rounds_waited": rng.randint(0, 3), "last_round_at": now - timedelta(days=5),
                    "told_key": None, "told_at": None, "promise_open": False, "hint": "",
                })  # fmt: skip
            self._goals(t, gid, mid, p.goals, open_cycle=role != "idle")
        partnered = [m for m in ids if roles[m] == "partnered"]
        for a, b in zip(partnered[::2], partnered[1::2], strict=False):
            self._pair(t, gid, a, b)
        for _ in range(len(ids) // 8):  # ended history
            a, b = rng.sample(ids, 2)
            self._pair(t, gid, a, b, ended=True)
        tables = {
            "members": Member, "private": MemberPrivate, "goals": Goal, "checkins": CheckIn,
            "pairs": Partnership, "pms": PartnershipMember, "meetings": Meeting,
            "answers": MeetingAnswer, "standings": RoundStanding, "outbox": OutboxItem,
        }  # fmt: skip
        return {tables[k].__table__: v for k, v in t.items()}  # type: ignore[misc]

    def _outbox(self, t: dict[str, list[dict[str, Any]]], *, kind: str, target: str,
                at: datetime, state: str, gid: int, payload: dict[str, Any],
                uid: int | None = None, channel: int | None = None) -> None:  # fmt: skip
        key = occurrence_key(kind, target, at)
        final = state != "pending"
        t["outbox"].append({
            "id": self.next_id("outbox"), "key": key, "target": key_target(key), "kind": kind,
            "guild_id": gid, "user_id": uid, "channel_id": channel, "payload": payload,
            "due_at": at, "expires_at": at + timedelta(hours=12), "next_attempt_at": at,
            "state": state, "attempt": 1 if final else 0, "claimed_by": None, "lease_until": None,
            "message_id": (THREAD_BASE // 2 + self.ids["outbox"]) if state == "sent" else None,
            "delivered_via": "dm" if state == "sent" and uid else "channel" if state == "sent"
            else None, "reason": None, "created_at": at - timedelta(days=1),
            "finished_at": at + timedelta(seconds=2) if final else None,
        })  # fmt: skip

    def _goals(self, t: dict[str, list[dict[str, Any]]], gid: int, mid: int,
               texts: tuple[str, ...], *, open_cycle: bool) -> None:  # fmt: skip
        rng, now = self.rng, self.now
        count = rng.choice((2, 3, 4, 4, 5, 6, 5))
        current = rng.choice((1, 2)) if open_cycle else 0
        lost = open_cycle and rng.random() < LOST_PLAN_SHARE
        uid = user_id(mid)
        for i in range(count):
            gid_ = self.next_id("goal")
            is_open = i >= count - current
            if is_open:
                due = now + timedelta(days=rng.uniform(2, 9))
                if lost:
                    due = now - timedelta(days=1)
                status, reviewed, created = "open", None, now - timedelta(days=2)
            else:
                due = now - timedelta(weeks=count - i, hours=rng.uniform(0, 48))
                status = rng.choice(("done", "done", "partly", "missed"))
                reviewed, created = due + timedelta(hours=1), due - timedelta(days=6)
                cid = self.next_id("checkin")
                t["checkins"].append({
                    "id": cid, "goal_id": gid_, "member_id": mid,
                    "asked_for": due - timedelta(days=1),
                    "answer": status if status != "missed" else "missed",
                    "note": None, "answered_at": due - timedelta(hours=20),
                })  # fmt: skip
                self._outbox(t, kind="checkin", target=f"g{gid_}", at=due - timedelta(days=1),
                             state="sent", gid=gid, uid=uid,
                             payload=_msg("How is your goal going?"))  # fmt: skip
                self._outbox(
                    t,
                    kind="checkin_plan",
                    target=f"m{mid}",
                    at=due - timedelta(days=1),
                    state="done",
                    gid=gid,
                    uid=uid,
                    payload={"member_id": mid},
                )
            t["goals"].append({
                "id": gid_, "guild_id": gid, "member_id": mid, "partnership_id": None,
                "text": texts[i % len(texts)], "area": None, "due_date": due.date(),
                "due_at": due, "due_rule": "day", "reviewed_at": reviewed, "status": status,
                "created_at": created, "updated_at": created,
            })  # fmt: skip
        self._outbox(
            t,
            kind="notice",
            target=f"m{mid}",
            at=now - timedelta(days=30),
            state="sent",
            gid=gid,
            uid=uid,
            payload=_msg("Welcome!"),
        )
        if current and not lost:
            for kind, days in (("checkin_plan", 2), ("goal_review", 9)):
                at = (now + timedelta(days=days, minutes=rng.randint(0, 600))).replace(second=0)
                self._outbox(
                    t,
                    kind=kind,
                    target=f"m{mid}",
                    at=at,
                    state="pending",
                    gid=gid,
                    uid=uid,
                    payload={"member_id": mid},
                )

    def _pair(self, t: dict[str, list[dict[str, Any]]], gid: int, a: int, b: int, *,
              ended: bool = False) -> None:  # fmt: skip
        rng, now = self.rng, self.now
        pid = self.next_id("pair")
        state = "ended" if ended else rng.choices(("active", "trial", "proposed"), (80, 15, 5))[0]
        started = now - timedelta(days=rng.randint(20, 120) if state != "trial" else 5)
        zone = self.people[a - 1].zone
        t["pairs"].append({
            "id": pid, "guild_id": gid, "state": state, "source": "round", "round_id": None,
            "score": rng.uniform(0.3, 0.9), "explanation": {"overlap_minutes": 120},
            "thread_id": THREAD_BASE + pid, "proposed_at": started - timedelta(days=2),
            "expires_at": now + timedelta(days=2) if state == "proposed" else None,
            "started_at": None if state == "proposed" else started,
            "trial_ends_at": started + timedelta(days=14) if state != "proposed" else None,
            "ended_at": now - timedelta(days=rng.randint(1, 60)) if ended else None,
            "end_reason": "ended" if ended else None,
            "meeting_weekday": None if state == "proposed" else rng.randrange(7),
            "meeting_time": None if state == "proposed" else "18:00",
            "meeting_zone": None if state == "proposed" else zone,
            "meeting_interval_weeks": 1,
            "meeting_anchor": None if state == "proposed" else started.date(),
            "meeting_minutes": 45, "reminder_minutes": 30,
        })  # fmt: skip
        for m in (a, b):
            t["pms"].append({
                "partnership_id": pid, "member_id": m,
                "accepted": None if state == "proposed" else True,
                "decided_at": None if state == "proposed" else started, "private_reason": None,
                "trial_choice": None, "last_active_at": now - timedelta(days=rng.randint(0, 6)),
                "ghost_asked_at": None,
            })  # fmt: skip
        if state not in ("active", "trial"):
            return
        self.partnered[gid].extend((a, b))
        target = f"p{pid}"
        for week in (3, 2, 1):
            mtg = self.next_id("meeting")
            at = (now - timedelta(weeks=week)).replace(minute=0, second=0)
            t["meetings"].append(
                {"id": mtg, "partnership_id": pid, "occurs_at": at, "state": "done"}
            )
            for m in (a, b):
                t["answers"].append(
                    {
                        "meeting_id": mtg,
                        "member_id": m,
                        "answer": "yes",
                        "answered_at": at + timedelta(hours=1),
                    }
                )
            self._outbox(
                t,
                kind="meeting_reminder",
                target=target,
                at=at,
                state="sent",
                gid=gid,
                channel=THREAD_BASE + pid,
                payload=_msg("Meeting soon"),
            )
        nxt = (now + timedelta(days=rng.uniform(2, 7))).replace(minute=0, second=0)
        mtg = self.next_id("meeting")
        t["meetings"].append(
            {"id": mtg, "partnership_id": pid, "occurs_at": nxt, "state": "scheduled"}
        )
        self._outbox(
            t,
            kind="meeting_prep",
            target=target,
            at=nxt,
            state="pending",
            gid=gid,
            payload={"partnership_id": pid, "meeting_id": mtg},
        )
        for m in (a, b):
            self._outbox(
                t,
                kind="meeting_check",
                target=f"p{pid}m{m}",
                at=nxt,
                state="pending",
                gid=gid,
                uid=user_id(m),
                payload=_msg("Did you meet?"),
            )
        self._outbox(
            t,
            kind="pair_upkeep",
            target=target,
            at=nxt + timedelta(days=1),
            state="pending",
            gid=gid,
            payload={"partnership_id": pid},
        )


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


async def build(url: str, members: int, *, seed: int = 13, now: datetime | None = None) -> Built:
    """Migrate ``url`` (an empty database) to head and fill it; ids fixed as documented."""
    started, cpu = time.monotonic(), time.process_time()
    gen = Generator(members, seed, now or datetime.now(UTC))
    engine = create_engine(url)
    rows: dict[str, int] = {}
    try:
        await upgrade(engine)
        sqlite = engine.dialect.name == "sqlite"
        async with engine.begin() as conn:
            await conn.execute(_table(GuildSettings).insert(), gen.settings())
            await conn.execute(_table(MatchRound).insert(), [
                {"guild_id": g, "ran_at": gen.now - timedelta(days=7), "pool_size": 100,
                 "groups": 45, "unmatched": 10, "total_score": 30.0, "seconds": 1.0,
                 "trigger": "schedule"} for g in guild_ids()])  # fmt: skip
            for block in gen.chunks():
                for table, data in block.items():
                    if data:
                        await conn.execute(table.insert(), data)
                        rows[table.name] = rows.get(table.name, 0) + len(data)
            if not sqlite:
                for name in ("members", "goals", "checkins", "partnerships", "meetings",
                             "outbox", "match_rounds"):  # fmt: skip
                    await conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"))  # fmt: skip
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()
    return Built(
        url,
        members,
        rows,
        time.monotonic() - started,
        time.process_time() - cpu,
        partnered=gen.partnered,
        seeking=gen.seeking,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url", default="sqlite+aiosqlite:///bigdb.sqlite3")
    args = parser.parse_args()
    built = asyncio.run(build(args.database_url, args.members))
    total = sum(built.rows.values())
    print(f"{args.members} members, {total} rows in {built.seconds:.1f} s "
          f"(cpu {built.cpu:.1f} s): {built.rows}")  # fmt: skip


if __name__ == "__main__":
    main()
