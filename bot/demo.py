"""``pairbot demo``: the whole bot against the local Discord emulator, with a simulated
community, printed as what members see.

Everything is real except the people and the clock: the real discord.py client talks to the
emulator over sockets, the database is a temporary SQLite file, and simulated members use slash
commands, buttons and modals. Time moves through several weeks; each member reads times in their
own zone, as Discord's timestamps would show them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.clock import FakeClock
from bot.db import create_engine
from bot.domain.partnership import suggest_slots
from bot.domain.posts import overlap_runs, overlap_summary
from bot.migrate import upgrade
from bot.sandbox import Sandbox, sandbox
from bot.simulation.people import STORIES, Person, profile_options, public_profile
from emulator import Channel, EmulatorError, Member, Message, Reply

log = logging.getLogger(__name__)

# A Monday in March: the US has just changed its clocks and Europe changes during the demo.
DEMO_START = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)

# (zone, languages, weight): a realistic world mix.
ZONES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("America/New_York", ("English",), 5),
    ("America/Chicago", ("English", "Spanish"), 3),
    ("America/Los_Angeles", ("English",), 3),
    ("America/Sao_Paulo", ("Portuguese", "English"), 2),
    ("America/Mexico_City", ("Spanish", "English"), 2),
    ("Europe/London", ("English",), 4),
    ("Europe/Berlin", ("German", "English"), 4),
    ("Europe/Madrid", ("Spanish", "English"), 2),
    ("Europe/Warsaw", ("Polish", "English"), 2),
    ("Africa/Lagos", ("English",), 2),
    ("Africa/Nairobi", ("English", "Swahili"), 1),
    ("Africa/Johannesburg", ("English",), 1),
    ("Asia/Kolkata", ("English", "Hindi"), 4),
    ("Asia/Singapore", ("English",), 2),
    ("Asia/Tokyo", ("Japanese", "English"), 2),
    ("Australia/Sydney", ("English",), 2),
)
NAMES = (
    "amara",
    "bruno",
    "chen",
    "dana",
    "elif",
    "farah",
    "gabe",
    "hana",
    "ines",
    "jonas",
    "kemi",
    "liam",
    "maya",
    "nikhil",
    "olga",
    "pedro",
    "quinn",
    "rosa",
    "sami",
    "tariq",
    "uma",
    "vera",
    "wei",
    "ximena",
    "yusuf",
    "zoe",
)
AVAILABILITY = (
    "weekday evenings",
    "Mon-Thu 19:00-21:30",
    "Tue,Thu 18:00-21:00, Sat 09:00-12:00",
    "weekend mornings, Wed 20:00-22:00",
    "Mon-Fri 07:00-09:00",
    "Mon-Fri 12:00-14:00, Sun 16:00-19:00",
    "evenings",
)
GOAL_AREAS = ("fitness", "study", "career", "writing", "creative", "habits")

TIMESTAMP = re.compile(r"<t:(\d+)(?::([tTdDfFR]))?>")
USER_MENTION = re.compile(r"<@!?(\d+)>")
CHANNEL_MENTION = re.compile(r"<#(\d+)>")


def community(size: int, seed: int) -> list[Person]:
    """A seeded, varied community: zones across the world, different availability and goals,
    and a few members with private preferences."""
    rng = random.Random(seed)
    zones = [z for z, _, weight in ZONES for _ in range(weight)]
    people = []
    for index in range(size):
        zone = rng.choice(zones)
        languages = next(langs for z, langs, _ in ZONES if z == zone)
        name = NAMES[index % len(NAMES)] + ("" if index < len(NAMES) else str(index // len(NAMES)))
        area, intro, goals = STORIES[rng.randrange(len(STORIES))]
        extra = rng.choice((None, None, *[a for a in GOAL_AREAS if a != area]))
        private: dict[str, str] = {}
        if rng.random() < 0.3:
            private["gender"] = rng.choice(("woman", "man", "non-binary"))
            private["age"] = rng.choice(("18-24", "25-34", "35-44", "45-54"))
        if rng.random() < 0.1:
            private["partner_genders"] = "woman"
        people.append(
            Person(
                name=name,
                zone=zone,
                availability=rng.choice(AVAILABILITY),
                goal_areas=tuple(sorted({area, *([extra] if extra else [])})),
                rhythm="weekly" if rng.random() < 0.8 else "biweekly",
                medium=rng.choice(("text", "voice", "video")),
                languages=languages,
                intro=intro,
                goals=goals,
                private=private,
            )
        )
    return people


def relative(delta: timedelta) -> str:
    """Discord's relative style: "in 9 hours", "3 days ago"."""
    seconds = delta.total_seconds()
    amount = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if amount >= size:
            count = round(amount / size)
            text = f"{count} {unit}" + ("" if count == 1 else "s")
            return f"in {text}" if seconds > 0 else f"{text} ago"
    return "now"


class Transcript:
    """What members see, rendered for a terminal: Discord timestamps become the reader's own
    local time, mentions become names."""

    def __init__(
        self,
        out: TextIO,
        extra: TextIO | None,
        names: dict[int, str],
        now: Callable[[], datetime],
        channels: Callable[[int], str | None] = lambda _: None,
    ) -> None:
        self.out, self.extra, self.names, self.now = out, extra, names, now
        self.channels = channels

    def line(self, text: str = "") -> None:
        print(text, file=self.out)
        if self.extra is not None:
            print(text, file=self.extra)

    def heading(self, text: str) -> None:
        self.line()
        self.line(f"== {text}")

    def local(self, text: str, zone: str | None) -> str:
        tz = ZoneInfo(zone) if zone else UTC

        def stamp(match: re.Match[str]) -> str:
            moment = datetime.fromtimestamp(int(match.group(1)), tz)
            style = match.group(2) or "f"
            if style == "R":
                return relative(moment - self.now())
            if style in "tT":
                return moment.strftime("%H:%M")
            if style in "dD":
                return moment.strftime("%a %d %b")
            return moment.strftime("%a %d %b %H:%M")

        text = TIMESTAMP.sub(stamp, text)
        text = CHANNEL_MENTION.sub(
            lambda m: "#" + (self.channels(int(m.group(1))) or "a-channel"), text
        )
        return USER_MENTION.sub(lambda m: "@" + self.names.get(int(m.group(1)), "someone"), text)

    def sees(self, who: str, zone: str | None, what: str, text: str, *, limit: int = 12) -> None:
        lines = self.local(text, zone).splitlines() or [""]
        self.line(f"  {who} sees {what}:")
        for row in lines[:limit]:
            self.line(f"    │ {row}")
        if len(lines) > limit:
            more = len(lines) - limit
            self.line(f"    │ … ({more} more line{'' if more == 1 else 's'})")


@dataclass
class Demo:
    sb: Sandbox
    people: list[Person]
    members: dict[str, Member]
    out: Transcript
    weeks: int = 4
    seed: int = 7
    stats: Counter[str] = field(default_factory=Counter)
    featured: list[str] = field(default_factory=list)  # the pair whose journey is shown
    seen: set[int] = field(default_factory=set)
    shown: Counter[str] = field(default_factory=Counter)
    reasons_given: bool = False  # the featured pair explained a miss: show the next agenda

    def zone_of(self, name: str) -> str:
        return next(p.zone for p in self.people if p.name == name)

    def _show(self, person: Person, kind: str, what: str, text: str, times: int = 2) -> None:
        """Show the featured pair's messages, each kind a couple of times at most."""
        if self.shown[kind] < times:
            self.shown[kind] += 1
            self.out.line(f"  [{self.now_text()}]")
            self.out.sees(person.name, person.zone, f"{what} ({person.zone})", text, limit=16)

    def now_text(self) -> str:
        return self.sb.clock.now().strftime("%a %d %b %Y, %H:%M UTC")


async def write_profiles(demo: Demo) -> None:
    demo.out.heading(f"{demo.now_text()}: {len(demo.people)} members describe themselves")
    for index, person in enumerate(demo.people):
        member = demo.members[person.name]
        reply = await member.slash("profile edit", options=profile_options(person))
        opened = await member.press(reply, "Edit intro & goals")
        assert opened.modal is not None
        await member.submit(
            opened.modal, {"A short intro": person.intro, "Your current goals": person.goals[0]}
        )
        if person.private:
            await member.slash("profile private", options=person.private)
        demo.stats["profiles"] += 1
        if index < 3:
            demo.out.line(
                f"  {person.name} ({person.zone}): /profile edit — {person.availability}; "
                f"{', '.join(person.goal_areas)}; {person.rhythm}"
            )
            demo.out.sees(person.name, person.zone, "(only them)", reply.content)
    if len(demo.people) > 3:
        demo.out.line(f"  … and {len(demo.people) - 3} more profiles.")

    first = demo.members[demo.people[0].name]
    bad = await first.slash("profile edit", timezone="europe/berlin")
    demo.out.line(f"  {first.name} types a zone by hand: /profile edit timezone:europe/berlin")
    demo.out.sees(first.name, demo.people[0].zone, "(only them)", bad.content)


async def join_pool(demo: Demo) -> None:
    demo.out.heading(f"{demo.now_text()}: everyone joins the pool with /partner find")
    for person in demo.people:
        reply = await demo.members[person.name].slash("partner find")
        if "in the pool" in reply.content:
            demo.stats["joined"] += 1
    posts = len(demo.sb.forum.threads)
    demo.out.line(f"  {demo.stats['joined']} members joined; the forum has {posts} posts.")
    post = demo.sb.forum.threads[0]
    reader = demo.people[-1]
    demo.out.line(f"  Post “{post.name}” (tags: {', '.join(post.tag_names)})")
    demo.out.sees(
        reader.name, reader.zone, f"in the forum ({reader.zone})", post.messages[0].content
    )


async def request_partnership(demo: Demo) -> None:
    demo.out.heading(f"{demo.now_text()}: a member browses the forum and requests a partner")
    author, requester = _overlapping_pair(demo)
    if author is None or requester is None:
        demo.out.line("  Nobody in this community overlaps enough for a request.")
        return
    post = next(t for t in demo.sb.forum.threads if (t.name or "").startswith(author.name + " "))
    sent = await demo.members[requester.name].press(post.messages[0], "Request partnership")
    demo.out.sees(requester.name, requester.zone, "(only them)", sent.content)
    card = await demo.members[author.name].wait_for_dm("would like to be your accountability")
    demo.out.sees(author.name, author.zone, f"in their DMs ({author.zone})", card.content)
    accepted = await demo.members[author.name].press(card, "Accept")
    demo.out.sees(author.name, author.zone, "after pressing Accept", accepted.content)
    note = await demo.members[requester.name].wait_for_dm("accepted your partnership request")
    demo.out.sees(requester.name, requester.zone, "in their DMs", note.content)
    demo.stats["requests accepted"] += 1


def _overlapping_pair(demo: Demo) -> tuple[Person | None, Person | None]:
    """The two members in different zones (and without private wishes) who share the most
    free time, so the demo shows one overlap converted for each reader."""
    now = demo.sb.clock.now()
    plain = [p for p in demo.people if not p.private]
    best: tuple[int, Person | None, Person | None] = (0, None, None)
    for i, a in enumerate(plain):
        for b in plain[i + 1 :]:
            if a.zone != b.zone and a.rhythm == b.rhythm:
                minutes, _ = overlap_summary(public_profile(a), public_profile(b), now)
                if minutes > best[0]:
                    best = (minutes, a, b)
    return best[1], best[2]


async def matching_round(demo: Demo) -> None:
    demo.out.heading(f"{demo.now_text()}: a moderator previews, then runs a matching round")
    mod = demo.sb.moderator
    preview = await mod.slash("admin match-now", dry_run=True)
    demo.out.sees("mod", "UTC", "(only them)", preview.content, limit=8)
    done = await mod.slash("admin match-now", dry_run=False)
    first = done.content.splitlines()[0] if done.content else ""
    demo.out.line(f"  {first}")
    await demo.sb.tick()
    paired = {p.name for _, people in _pairs(demo) for p in people}
    waiting = [p for p in demo.people if p.name not in paired]
    shown = 0
    for person in waiting:
        member = demo.members[person.name]
        told = [m for m in member.dms() if "round" in m.content.lower()]
        if told and shown < 2:
            demo.out.sees(
                person.name, person.zone, "in their DMs (no partner yet)", told[-1].content
            )
            shown += 1
    groups = re.search(r"(\d+) groups?", first)
    demo.stats["pairs proposed by the round"] += int(groups.group(1)) if groups else 0
    if waiting:
        who = waiting[-1]
        reply = await _act(
            demo,
            f"{who.name} pausing",
            demo.members[who.name].slash("partner pause", until="2w"),
        )
        if reply is not None:
            demo.out.line(f"  {who.name} is travelling: /partner pause until:2w")
            demo.out.sees(who.name, who.zone, "(only them)", reply.content)
            demo.stats["members who paused"] += 1


async def admin_setup(demo: Demo) -> None:
    """A moderator sets the community up: channels, goal areas, when rounds run."""
    demo.out.heading(f"{demo.now_text()}: a moderator sets pairbot up with /admin setup")
    sb = demo.sb
    reply = await sb.moderator.slash(
        "admin setup",
        forum=sb.forum,
        pairs_channel=sb.pairs,
        mod_channel=sb.mods,
        goal_areas=", ".join(GOAL_AREAS),
        match_day="Thursday",
        match_time="17:00",
        odd_policy="carry_over",
    )
    demo.out.sees("the moderator", None, "(only them)", reply.content)


def _pairs(demo: Demo) -> list[tuple[Channel, list[Person]]]:
    """Each private thread the bot opened, with the people in it."""
    by_id = {demo.members[p.name].id: p for p in demo.people}
    found = []
    for thread in demo.sb.pairs.threads:
        people = [by_id[i] for i in thread.member_ids if i in by_id]
        if len(people) >= 2:
            found.append((thread, people))
    return found


async def _act(demo: Demo, what: str, action: Awaitable[Reply]) -> Reply | None:
    """A member's action; anything the emulator refuses is counted and shown, not hidden."""
    try:
        return await action
    except EmulatorError as error:
        demo.stats["actions that failed"] += 1
        demo.out.line(f"  ⚠️ {what} failed: {error}")
        return None


async def partners_meet(demo: Demo) -> None:
    demo.out.heading(f"{demo.now_text()}: the new pairs meet in their private threads")
    await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=5))
    pairs = _pairs(demo)
    decliner = _decliner(pairs)
    for thread, people in pairs:
        proposal = next((m for m in thread.messages if "Accept" in m.button_labels), None)
        if proposal is None:
            continue
        if thread is decliner:
            await _decline(demo, thread, people, proposal)
            continue
        if not demo.featured:
            demo.featured = [p.name for p in people]
            for person in people[:2]:
                demo.out.sees(
                    person.name,
                    person.zone,
                    f"in their private thread ({person.zone})",
                    proposal.content,
                    limit=14,
                )
        for person in people:
            await _act(
                demo,
                f"{person.name} accepting",
                demo.members[person.name].press(proposal, "Accept"),
            )
        demo.stats["pairs who both accepted"] += 1
    await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=5))
    pairs = [(t, people) for t, people in _pairs(demo) if t is not decliner]
    featured = next(((t, p) for t, p in pairs if p[0].name in demo.featured), None)
    if featured is not None:
        thread, people = featured
        latest = thread.messages[-1]
        demo.out.sees(people[0].name, people[0].zone, "next in the thread", latest.content)
    for _, people in pairs:
        await _set_meeting(demo, people, show=people[0].name in demo.featured[:1])


def _decliner(pairs: list[tuple[Channel, list[Person]]]) -> Channel | None:
    """One pair (not the first, whose journey the demo follows) where one member declines."""
    waiting = [t for t, _ in pairs if any("Decline" in m.button_labels for m in t.messages)]
    return waiting[-1] if len(waiting) >= 3 else None


async def _decline(demo: Demo, thread: Channel, people: list[Person], proposal: Message) -> None:
    """A member declines a proposal with a private reason; the other is told kindly, and
    never the reason."""
    who, other = people[0], people[1]
    member = demo.members[who.name]
    form = await _act(demo, f"{who.name} declining", member.press(proposal, "Decline"))
    if form is None or form.modal is None:
        return
    reason = "Our evenings barely overlap, honestly."
    await _act(
        demo,
        f"{who.name} giving a private reason",
        member.submit(form.modal, {"Why? (optional, private)": reason}),
    )
    demo.out.line(f"  {who.name} presses Decline and writes a private reason: “{reason}”")
    await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=5))
    told = [m for m in thread.messages if m.id not in {proposal.id}]
    seen_by_other = [m.text for m in demo.members[other.name].dms()[-1:]] + [
        m.text for m in told[-1:]
    ]
    if seen_by_other:
        demo.out.sees(other.name, other.zone, "(the reason is never shown)", seen_by_other[-1])
    demo.stats["proposals declined"] += 1


async def _set_meeting(demo: Demo, people: list[Person], *, show: bool) -> None:
    """The first partner proposes a weekly meeting at the first suggested slot in their zone."""
    now = demo.sb.clock.now()
    runs = overlap_runs(public_profile(people[0]), public_profile(people[1]), now)
    slots = suggest_slots(runs, minutes=45, zone=people[0].zone)
    if not slots:
        return
    local = slots[0].astimezone(ZoneInfo(people[0].zone))
    setter = demo.members[people[0].name]
    reply = await _act(
        demo,
        f"{people[0].name} setting the meeting",
        setter.slash(
            "pair meeting", day=local.weekday(), time=f"{local:%H:%M}", zone=people[0].zone
        ),
    )
    if reply is None:
        return
    demo.stats["meetings agreed"] += 1
    if show:
        demo.out.line(
            f"  {people[0].name}: /pair meeting day:{local:%A} time:{local:%H:%M} "
            f"zone:{people[0].zone}"
        )
        demo.out.sees(people[0].name, people[0].zone, "(only them)", reply.content)
        await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=1))
        thread = next(t for t, who in _pairs(demo) if who[:2] == people[:2])
        told = thread.messages[-1]
        demo.out.sees(
            people[1].name, people[1].zone, f"in their thread ({people[1].zone})", told.text
        )


async def accountability_weeks(demo: Demo) -> None:
    """Week after week: goals, check-ins, meetings, the missed-goal prompt, as people would."""
    rng = random.Random(demo.seed)
    demo.seen |= {m.id for member in demo.members.values() for m in member.dms()}
    demo.seen |= {m.id for thread, _ in _pairs(demo) for m in thread.messages}
    for week in range(demo.weeks):
        demo.out.heading(f"{demo.now_text()}: week {week + 1}: everyone sets goals")
        for person in demo.people:
            if any(person in people for _, people in _pairs(demo)):
                for goal in person.goals[: 2 if week == 0 else 1]:
                    reply = await _act(
                        demo,
                        f"{person.name} adding a goal",
                        demo.members[person.name].slash("goal add", text=goal),
                    )
                    if reply is not None:
                        demo.stats["goals set"] += 1
        if week == 0 and demo.featured:
            first = demo.members[demo.featured[0]]
            board = await first.slash("goal list")
            demo.out.sees(
                demo.featured[0], demo.zone_of(demo.featured[0]), "/goal list", board.text
            )
            await _goal_done(demo, demo.featured[0])
        await demo.sb.live_until(
            demo.sb.clock.now() + timedelta(days=7),
            max_step=timedelta(hours=12),
            after_tick=lambda: _respond(demo, rng),
        )
    for name in demo.featured[:1]:
        status = await demo.members[name].slash("pair status")
        demo.out.sees(name, demo.zone_of(name), "/pair status", status.text)
        stats = await demo.members[name].slash("stats")
        pictures = "".join(
            f"\n📎 {a.filename} ({a.size:,} bytes: a chart of their weeks)"
            for a in stats.attachments
        )
        demo.out.sees(name, demo.zone_of(name), "/stats (only them)", stats.text + pictures)
    overview = await demo.sb.moderator.slash("admin stats")
    demo.out.sees("the moderator", None, "/admin stats (only them)", overview.text)


async def _goal_done(demo: Demo, name: str) -> None:
    """Finishing early: /goal done, picking the goal from the autocomplete list."""
    member = demo.members[name]
    choices = await member.autocomplete("goal done", "goal", "")
    if not choices:
        return
    reply = await _act(
        demo, f"{name} marking a goal done", member.slash("goal done", goal=choices[0]["value"])
    )
    if reply is not None:
        demo.out.line(f"  {name} finished early: /goal done goal:{choices[0]['name']}")
        demo.out.sees(name, demo.zone_of(name), "(only them)", reply.content)
        demo.stats["goals marked done early"] += 1


def _bystanders(demo: Demo, *, newest: bool) -> tuple[Person, Person] | None:
    """Two partners other than the pair whose journey the demo follows (the oldest such pair,
    or the newest), for the journeys told once on the side."""
    pairs = reversed(_pairs(demo)) if newest else iter(_pairs(demo))
    found = next((people for _, people in pairs if people[0].name not in demo.featured), None)
    return (found[0], found[1]) if found is not None else None


async def pair_ends(demo: Demo) -> None:
    """One pair (not the one the demo follows) ends kindly: the partner is told, never why."""
    demo.out.heading(f"{demo.now_text()}: a partnership ends kindly")
    chosen = _bystanders(demo, newest=False)
    if chosen is None:
        return
    who, partner = chosen
    member = demo.members[who.name]
    form = await _act(demo, f"{who.name} ending", member.slash("pair end"))
    if form is None or form.modal is None:
        return
    reason = "New job, no evenings free any more."
    done = await _act(
        demo,
        f"{who.name} confirming the end",
        member.submit(form.modal, {"Why? (optional, private)": reason}),
    )
    if done is None:
        return
    demo.out.line(f"  {who.name}: /pair end, with a private reason: “{reason}”")
    demo.out.sees(who.name, who.zone, "(only them)", done.content)
    await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=5))
    told = next(
        (m for m in reversed(demo.members[partner.name].dms()) if "ended" in m.content), None
    )
    if told is not None:
        demo.out.sees(partner.name, partner.zone, "in a DM (never the reason)", told.content)
    demo.stats["partnerships ended"] += 1


async def _respond(demo: Demo, rng: random.Random) -> None:
    """Each member answers what the bot sent them since they last looked."""
    for person in demo.people:
        member = demo.members[person.name]
        fresh = [m for m in member.dms() if m.id not in demo.seen]
        for message in fresh:
            demo.seen.add(message.id)
            await _answer(demo, person, member, message, rng)
    for thread, people in _pairs(demo):
        for message in thread.messages:
            if message.id in demo.seen:
                continue
            demo.seen.add(message.id)
            await _thread_message(demo, people, message, rng)


async def _answer(
    demo: Demo, person: Person, member: Member, message: Message, rng: random.Random
) -> None:
    labels = message.button_labels
    featured = person.name in demo.featured
    if {"Done", "Partly", "Missed"} <= set(labels):
        choice = rng.choices(["Done", "Partly", "Missed"], weights=[6, 2, 2])[0]
        if featured:
            # The story the demo follows: a win, then a miss to talk about, then half-way.
            story = ("Done", "Missed", "Partly")
            told = demo.shown["featured answers"]
            demo.shown["featured answers"] += 1
            choice = story[told] if told < len(story) else choice
        demo.stats[f"check-ins answered {choice.lower()}"] += 1
        if featured:
            demo._show(person, "check-in", "a check-in DM", message.text)
        await _act(demo, f"{person.name} answering", member.press(message, choice))
        if featured and choice == "Partly" and demo.shown["note"] == 0:
            demo.shown["note"] += 1
            opened = await _act(demo, "opening a note", member.press(message, "Add a note"))
            if opened is not None and opened.modal is not None:
                await _act(
                    demo,
                    "saving a note",
                    member.submit(
                        opened.modal, {"note": "Got halfway; a deadline at work ate Thursday."}
                    ),
                )
                demo.out.line(f"  {person.name} adds a note to their “Partly”.")
    elif any(label.startswith("Yes") for label in labels):
        answer = next(label for label in labels if label.startswith("Yes"))
        if rng.random() < 0.15:
            answer = "No"
        demo.stats["meetings held" if answer != "No" else "meetings missed"] += 1
        if featured:
            demo._show(person, "did-you-meet", "after the meeting", message.text)
        await _act(demo, f"{person.name} on the meeting", member.press(message, answer))
    elif "Continue together" in labels:
        demo.stats["trial: continue"] += 1
        if featured:
            demo._show(person, "trial", "at the end of the trial", message.text)
        await _act(demo, f"{person.name} on the trial", member.press(message, "Continue together"))
    elif any(re.match(r"\d+\. ", label) for label in labels):
        if featured:
            demo._show(person, "prompt", "the weekly missed-goal prompt", message.text)
        for label in [lb for lb in labels if re.match(r"\d+\. ", lb)]:
            why = await _act(demo, f"{person.name} opening why", member.press(message, label))
            if why is None or why.message is None:
                continue
            reason = rng.choice(["work", "family", "distraction", "underestimated", "unsure"])
            if not any(c.get("type") == 3 for c in why.message.interactive_components()):
                continue  # e.g. "You marked this goal done since": nothing to reflect on
            form = await _act(demo, "choosing a reason", member.choose(why, [reason]))
            if form is not None and form.modal is not None:
                await _act(
                    demo,
                    "saying what would help",
                    member.submit(form.modal, {"help": rng.choice(HELPS)}),
                )
                demo.stats["missed goals reflected on"] += 1
                if featured:
                    demo.reasons_given = True
    elif "Keep waiting" in labels:
        await _act(demo, f"{person.name} keeps waiting", member.press(message, "Keep waiting"))
    elif featured:
        demo._show(person, "dm", "in their DMs", message.text)


async def _thread_message(
    demo: Demo, people: list[Person], message: Message, rng: random.Random
) -> None:
    featured = any(p.name in demo.featured for p in people)
    if featured and message.author.id == demo.sb.emu.bot_user.id:
        kind = "reminder" if "agenda" in message.text.lower() else "thread"
        reader = people[1] if len(people) > 1 else people[0]
        if kind == "reminder" and demo.reasons_given:
            demo.reasons_given = False
            demo._show(
                reader,
                "agenda",
                "the next agenda, opening with why goals slipped",
                message.text,
                times=1,
            )
        else:
            demo._show(reader, kind, "in their pair's thread", message.text)
    if "Give feedback" in message.button_labels and rng.random() < 0.3:
        owner = next(
            (p for p in people if f"<@{demo.members[p.name].id}>" in message.content), None
        )
        partner = next((p for p in people if p is not owner), None)
        if owner is None or partner is None:
            return
        member = demo.members[partner.name]
        form = await _act(demo, "opening feedback", member.press(message, "Give feedback"))
        if form is not None and form.modal is not None:
            await _act(
                demo,
                "sending feedback",
                member.submit(form.modal, {"feedback": rng.choice(_feedback_for(message.text))}),
            )
            demo.stats["feedback given"] += 1


HELPS = (
    "Block the time in my calendar on Monday.",
    "Smaller steps: one page a day.",
    "Tell my partner by Wednesday how it's going.",
)
FEEDBACK = {
    "done": ("Nice work, keep going!", "Proud of you!", "That's a real win."),
    "partly": ("Halfway is still progress.", "What would make the rest easier?"),
    "missed": ("It happens. Want to plan it together next time?", "Be kind to yourself."),
}


def _feedback_for(shared: str) -> tuple[str, ...]:
    """Words that fit how the check-in went (the shared message names the answer)."""
    lowered = shared.lower()
    for answer in ("missed", "partly", "done"):
        if f"**{answer}" in lowered:
            return FEEDBACK[answer]
    return FEEDBACK["partly"]


async def privacy(demo: Demo) -> None:
    """A member takes a copy of their data and then deletes it; their partner is told kindly.
    A visitor who never used the bot asks too, and is told there is nothing."""
    demo.out.heading(f"{demo.now_text()}: a member takes their data and leaves")
    chosen = _bystanders(demo, newest=True)
    if chosen is None:
        return
    leaver, partner = chosen
    member = demo.members[leaver.name]
    copy = await _act(demo, f"{leaver.name} exporting", member.slash("privacy export"))
    if copy is not None and copy.attachments:
        file = copy.attachments[0]
        sections = [key for key, value in json.loads(file.data).items() if value]
        demo.out.sees(
            leaver.name,
            leaver.zone,
            "/privacy export (only them)",
            f"{copy.content}\n📎 {file.filename}, {file.size:,} bytes: {', '.join(sections)}",
        )
        demo.stats["data exports"] += 1
    asked = await _act(demo, f"{leaver.name} deleting", member.slash("privacy delete"))
    if asked is None:
        return
    demo.out.sees(leaver.name, leaver.zone, "/privacy delete (only them)", asked.content)
    done = await _act(demo, f"{leaver.name} confirming", member.press(asked, "Delete everything"))
    if done is None:
        return
    demo.out.sees(leaver.name, leaver.zone, "after pressing Delete everything", done.content)
    demo.stats["members who deleted their data"] += 1
    await demo.sb.live_until(demo.sb.clock.now() + timedelta(minutes=5))
    told = next(
        (m for m in reversed(demo.members[partner.name].dms()) if "has ended" in m.content), None
    )
    if told is not None:
        demo.out.sees(partner.name, partner.zone, "in a DM", told.content)
    visitor = demo.sb.member("visitor")
    nothing = await _act(demo, "a visitor exporting", visitor.slash("privacy export"))
    if nothing is not None:
        demo.out.sees("a visitor", None, "/privacy export (only them)", nothing.content)


async def member_leaves(demo: Demo) -> None:
    """A member leaves the server without a word. pairbot asks for no privileged intent, so it
    finds out when a delivery to them fails (a refused DM, then a member lookup that says they
    are gone): the partnership ends, the partner is told kindly, nothing more goes to them."""
    pairs = [people for _, people in _pairs(demo)]
    bystanders = [people for people in pairs if people[0].name not in demo.featured]
    # Not the oldest or newest bystanders (their journeys were told); else the pair followed.
    choices = bystanders[1:-1] or [p for p in pairs if p[0].name in demo.featured]
    if not choices:
        return
    chosen = choices[0]
    demo.out.heading(f"{demo.now_text()}: a member leaves the server")
    leaver, partner = chosen[0], chosen[1]
    demo.members[leaver.name].leave()
    demo.out.line(f"  {leaver.name} leaves the server (a bot without intents is not told)")
    home = demo.members[partner.name]
    before = len(home.dms())
    for _ in range(14):  # until a delivery to them reveals it: their next reminder or check-in
        await demo.sb.live_until(demo.sb.clock.now() + timedelta(days=1))
        told = next((m for m in home.dms()[before:] if "left the server" in m.content), None)
        if told is not None:
            demo.out.sees(partner.name, partner.zone, f"in a DM, {demo.now_text()}", told.content)
            demo.stats["members who left the server"] += 1
            return
    demo.out.line(f"  (no delivery to {leaver.name} fell due in two weeks, so nobody knows yet)")


STEPS: tuple[Callable[[Demo], Awaitable[None]], ...] = (
    admin_setup,
    write_profiles,
    join_pool,
    request_partnership,
    matching_round,
    partners_meet,
    accountability_weeks,
    pair_ends,
    privacy,
    member_leaves,
)


async def run_demo(
    *, members: int, weeks: int, seed: int, transcript: TextIO | None, out: TextIO
) -> int:
    started = time.perf_counter()
    people = community(members, seed)
    with tempfile.TemporaryDirectory(prefix="pairbot-demo-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.sqlite3'}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        clock = FakeClock(DEMO_START)
        async with sandbox(database_url=url, clock=clock, configure_guild=False) as sb:
            handles = {p.name: sb.member(p.name) for p in people}
            names = {m.id: name for name, m in handles.items()} | {sb.moderator.id: "mod"}
            world = sb.emu.world

            def channel_name(channel_id: int) -> str | None:
                channel = world.channels.get(channel_id)
                return channel.name if channel is not None else None

            view = Transcript(out, transcript, names, clock.now, channel_name)
            demo = Demo(sb, people, handles, view, weeks, seed)
            demo.out.line(
                f"pairbot demo: {members} members, {weeks} weeks, seed {seed} "
                f"(a local Discord emulator; nothing leaves this machine)"
            )
            for step in STEPS:
                await step(demo)
            sb.emu.assert_no_violations()
        demo.out.heading("Summary")
        for key, value in demo.stats.items():
            demo.out.line(f"  {key}: {value}")
        demo.out.line(f"  finished in {time.perf_counter() - started:.1f} s")
    return 0


def main(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.CRITICAL)
    handle = args.transcript.open("w", encoding="utf-8") if args.transcript else None
    try:
        return asyncio.run(
            run_demo(
                members=args.members,
                weeks=args.weeks,
                seed=args.seed,
                transcript=handle,
                out=sys.stdout,
            )
        )
    finally:
        if handle is not None:
            handle.close()
