"""The community simulation: the real bot, the real discord.py client and the emulator, a
seeded community living through weeks on a fake clock, and the invariants checked every day.

Time moves as a running bot lives: to the next moment anything is due (an outbox row, a
member's planned action, the end of the day), one tick, one more to send what that tick queued,
then members react to what reached them. Every member action goes through Discord's real
interaction path (slash commands, buttons, selects, modals over the gateway and REST).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.db import read_only
from bot.domain.posts import overlap_runs
from bot.sandbox import Sandbox
from bot.services import outbox
from bot.simulation.invariants import Checker, Problem
from bot.simulation.observer import Observer, Seen
from bot.simulation.people import Person, profile_options, public_profile
from emulator import EmulatorError, Member, Reply
from emulator.errors import NoAnswerError

log = logging.getLogger(__name__)

UNEXPECTED = re.compile(r"reference `[0-9a-f]{6}`")  # every unexpected-error reply names one
CHECKIN = re.compile(r"pairbot:g:ci:(\d+):(done|partly|missed|note)")
WHY = re.compile(r"pairbot:g:why:(\d+)")
FEEDBACK = re.compile(r"pairbot:g:fb:(\d+)")
PROPOSAL = re.compile(r"pairbot:prop:(accept|decline):(\d+)")
TRIAL = re.compile(r"pairbot:trial:(continue|part):(\d+)")
MET = re.compile(r"pairbot:met:(yes|rescheduled|no):(\d+)")
QUIET = re.compile(r"pairbot:quiet:(wait|rematch):(\d+)")
REQUEST_CARD = re.compile(r"pairbot:req:(accept|decline):(\d+)")
REQUEST_BUTTON = re.compile(r"pairbot:request:(\d+)")
REASONS = ("work", "family", "distraction", "underestimated", "unsure")
HELPS = (
    "Block the time in my calendar on Monday.",
    "Smaller steps: one page a day.",
    "Tell my partner by Wednesday how it's going.",
)
KIND_WORDS = ("Nice work, keep going!", "Halfway is still progress.", "Proud of you!")

Action = Callable[[], Awaitable[None]]
HEARTBEAT = timedelta(hours=1)
"""The longest the simulation lets pass without a tick (the bot's interval job is shorter; an
hour keeps upkeep such as ending pauses close to on time without ticking for nothing)."""


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    interactions: int = 0
    days: int = 0


@dataclass
class Simulation:
    sb: Sandbox
    people: list[Person]
    seed: int
    weeks: int
    rng: random.Random = field(init=False)
    members: dict[str, Member] = field(default_factory=dict)
    by_id: dict[int, Person] = field(default_factory=dict)
    observer: Observer = field(init=False)
    checker: Checker = field(init=False)
    stats: Stats = field(default_factory=Stats)
    agenda: list[tuple[datetime, int, str, Action]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    gone: set[str] = field(default_factory=set)  # deleted their data: they do nothing more
    meeting_set: set[int] = field(default_factory=set)  # partnership ids with a meeting
    answered: set[tuple[int, str]] = field(default_factory=set)  # (message id, who) handled
    wall_started: float = field(default_factory=time.perf_counter)
    last_tick: datetime = field(default=datetime.min.replace(tzinfo=UTC))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.observer = Observer(now=self.sb.clock.now, bot_id=self.sb.emu.bot_user.id)
        self.sb.emu.world.message_listeners.append(self.observer.on_message)
        self.checker = Checker(self.sb, self.observer, self.people)

    # ------------------------------------------------------------------ the loop

    def plan(self, at: datetime, what: str, action: Action) -> None:
        heapq.heappush(self.agenda, (at, next(self.seq), what, action))

    async def run(self) -> list[Problem]:
        start = self.sb.clock.now()
        for person in self.people:
            self.plan(
                start + timedelta(days=person.joins_on_day, minutes=self.rng.randrange(600)),
                f"{person.name} joins",
                self._joiner(person),
            )
        end = start + timedelta(weeks=self.weeks)
        day = start
        while day < end:
            day = min(day + timedelta(days=1), end)
            self._plan_restless(day)
            await self._live_until(day)
            self.stats.days += 1
            await self.checker.check_day()
        await self.checker.check_end()
        return self.checker.problems

    async def _live_until(self, moment: datetime) -> None:
        """Live to ``moment``: the clock jumps to the next due row or planned action, a tick
        runs whenever outbox work is due (and at least every :data:`HEARTBEAT`, as the interval
        job would), and members act on what reached them."""
        clock = self.sb.clock
        while True:
            now = clock.now()
            due = await self._earliest_due()
            if (due is not None and due <= now) or now - self.last_tick >= HEARTBEAT:
                await self._tick()
                continue
            if self.agenda and self.agenda[0][0] <= now:
                while self.agenda and self.agenda[0][0] <= now:
                    _, _, what, action = heapq.heappop(self.agenda)
                    await self._do(what, action)
                    self._react(self.observer.fresh())
                await self.sb.bot.deps.ticker.settled()
                continue  # what they did may have made work due now
            if now >= moment:
                return
            step = min(moment, self.last_tick + HEARTBEAT)
            if due is not None:
                step = min(step, due)
            if self.agenda:
                step = min(step, self.agenda[0][0])
            if step > now:
                clock.set(step)

    async def _tick(self) -> None:
        self.last_tick = self.sb.clock.now()
        self.stats.counts["ticks"] += 1
        await self.sb.tick()
        self._react(self.observer.fresh())

    async def _earliest_due(self) -> datetime | None:
        async with read_only(self.sb.bot.deps.sessions) as session:
            return await outbox.earliest_pending(session)

    async def _do(self, what: str, action: Action) -> None:
        try:
            await action()
        except NoAnswerError as error:
            self.checker.problem("every interaction is answered", f"{what}: {error}")
        except EmulatorError as error:
            self.checker.problem("no Discord rule is broken", f"{what}: {error}")

    async def act(self, person: Person, what: str, action: Awaitable[Reply]) -> Reply | None:
        """One interaction by a member, with the checks every interaction gets."""
        self.stats.interactions += 1
        self.stats.counts[what] += 1
        try:
            reply = await action
        except NoAnswerError as error:
            self.checker.problem("every interaction is answered", f"{person.name} {what}: {error}")
            return None
        except EmulatorError as error:
            self.checker.problem("no Discord rule is broken", f"{person.name} {what}: {error}")
            return None
        text = reply.text if reply.message is not None else ""
        if UNEXPECTED.search(text):
            self.checker.problem("no unexpected-error reply", f"{person.name} {what}: {text[:200]}")
        return reply

    # ------------------------------------------------------------------ joining

    def _joiner(self, person: Person) -> Action:
        async def join() -> None:
            member = self.sb.member(person.name)
            self.members[person.name] = member
            self.by_id[member.id] = person
            self.checker.known(person, member)
            await self.write_profile(person, member)
            await self.act(person, "partner find", member.slash("partner find"))

        return join

    async def write_profile(self, person: Person, member: Member) -> None:
        reply = await self.act(
            person,
            "profile edit",
            member.slash("profile edit", options=profile_options(person)),
        )
        if reply is None or "Edit intro & goals" not in reply.button_labels:
            return
        form = await self.act(person, "open intro form", member.press(reply, "Edit intro & goals"))
        if form is not None and form.modal is not None:
            await self.act(
                person,
                "save intro",
                member.submit(
                    form.modal,
                    {"A short intro": person.intro, "Your current goals": "; ".join(person.goals)},
                ),
            )
        if person.private:
            await self.act(
                person, "profile private", member.slash("profile private", options=person.private)
            )

    # ------------------------------------------------------------------ reacting

    def _react(self, fresh: list[Seen]) -> None:
        """Each member decides whether and when to answer what reached them."""
        for seen in fresh:
            if not seen.from_bot or not seen.custom_ids:
                continue
            for user_id in seen.audience:
                person = self.by_id.get(user_id)
                if person is None or person.name in self.gone:
                    continue
                key = (seen.message.id, person.name)
                if key in self.answered:
                    continue
                self.answered.add(key)
                reaction = self._reaction(person, seen)
                if reaction is None:
                    continue
                if self.rng.random() > person.answers:
                    self.stats.counts["left unanswered"] += 1
                    continue
                self.plan(self.sb.clock.now() + person.delay(self.rng), reaction[0], reaction[1])

    def _reaction(self, person: Person, seen: Seen) -> tuple[str, Action] | None:
        member = self.members[person.name]
        message = seen.message
        ids = seen.custom_ids
        if any(CHECKIN.fullmatch(i) for i in ids):
            choice = self.rng.choices(("done", "partly", "missed"), weights=(6, 2, 2))[0]
            target = next(i for i in ids if i.endswith(":" + choice))

            async def checkin() -> None:
                reply = await self.act(
                    person, f"check-in {choice}", member.press(message, custom_id=target)
                )
                if reply is not None and choice != "done" and self.rng.random() < 0.3:
                    note = next((i for i in ids if i.endswith(":note")), None)
                    if note is not None:
                        form = await self.act(
                            person, "open note", member.press(message, custom_id=note)
                        )
                        if form is not None and form.modal is not None:
                            await self.act(
                                person,
                                "save note",
                                member.submit(
                                    form.modal, {"note": "A deadline at work ate Thursday."}
                                ),
                            )

            return "check-in", checkin
        if any(WHY.fullmatch(i) for i in ids):
            whys = [i for i in ids if WHY.fullmatch(i)]

            async def prompt() -> None:
                for why in whys:
                    opened = await self.act(person, "why", member.press(message, custom_id=why))
                    if opened is None or opened.message is None:
                        continue
                    if not any(c.get("type") == 3 for c in opened.message.interactive_components()):
                        continue
                    form = await self.act(
                        person, "reason", member.choose(opened, [self.rng.choice(REASONS)])
                    )
                    if form is not None and form.modal is not None:
                        await self.act(
                            person,
                            "what would help",
                            member.submit(form.modal, {"help": self.rng.choice(HELPS)}),
                        )

            return "weekly prompt", prompt
        if any(FEEDBACK.fullmatch(i) for i in ids):
            if self.rng.random() > 0.3 or f"<@{member.id}>" in message.content:
                return None  # not every check-in gets feedback, and not from its owner
            fb = next(i for i in ids if FEEDBACK.fullmatch(i))

            async def feedback() -> None:
                form = await self.act(person, "open feedback", member.press(message, custom_id=fb))
                if form is not None and form.modal is not None:
                    await self.act(
                        person,
                        "send feedback",
                        member.submit(form.modal, {"feedback": self.rng.choice(KIND_WORDS)}),
                    )

            return "feedback", feedback
        proposal = [m for m in (PROPOSAL.fullmatch(i) for i in ids) if m]
        if proposal:
            pid = int(proposal[0].group(2))
            decline = self.rng.random() < 0.08

            async def decide() -> None:
                if decline:
                    form = await self.act(
                        person,
                        "decline",
                        member.press(message, custom_id=f"pairbot:prop:decline:{pid}"),
                    )
                    if form is not None and form.modal is not None:
                        await self.act(
                            person,
                            "decline reason",
                            member.submit(
                                form.modal,
                                {"Why? (optional, private)": f"not a fit {person.secret}"},
                            ),
                        )
                    return
                await self.act(
                    person, "accept", member.press(message, custom_id=f"pairbot:prop:accept:{pid}")
                )
                self.plan(
                    self.sb.clock.now() + timedelta(hours=self.rng.uniform(1, 30)),
                    "meeting",
                    self._meeting(person, pid),
                )

            return "proposal", decide
        met = [m for m in (MET.fullmatch(i) for i in ids) if m]
        if met:
            verb = self.rng.choices(("yes", "rescheduled", "no"), weights=(8, 1, 1))[0]
            target = next(i for i in ids if i.startswith(f"pairbot:met:{verb}:"))

            async def answer_met() -> None:
                await self.act(person, f"met {verb}", member.press(message, custom_id=target))
                for text in self.rng.sample(person.goals, 1):
                    await self.act(person, "goal add", member.slash("goal add", text=text))

            return "did you meet", answer_met
        trial = [m for m in (TRIAL.fullmatch(i) for i in ids) if m]
        if trial:
            verb = "continue" if self.rng.random() < 0.85 else "part"
            target = next(i for i in ids if i.startswith(f"pairbot:trial:{verb}:"))
            return "trial", lambda: self._press(person, f"trial {verb}", message, target)
        quiet = [m for m in (QUIET.fullmatch(i) for i in ids) if m]
        if quiet:
            verb = "wait" if self.rng.random() < 0.5 else "rematch"
            target = next(i for i in ids if i.startswith(f"pairbot:quiet:{verb}:"))
            return "quiet partner", lambda: self._press(person, f"quiet {verb}", message, target)
        card = [m for m in (REQUEST_CARD.fullmatch(i) for i in ids) if m]
        if card:
            verb = "accept" if self.rng.random() < 0.7 else "decline"
            target = next(i for i in ids if i.startswith(f"pairbot:req:{verb}:"))
            return "request card", lambda: self._press(person, f"request {verb}", message, target)
        return None

    async def _press(self, person: Person, what: str, message: object, custom_id: str) -> None:
        member = self.members[person.name]
        await self.act(person, what, member.press(message, custom_id=custom_id))  # type: ignore[arg-type]

    def _meeting(self, person: Person, partnership_id: int) -> Action:
        """The member who accepted proposes a regular time inside the pair's overlap: any
        weekday, any hour, weekly or (when both chose it) every two weeks."""

        async def set_meeting() -> None:
            if partnership_id in self.meeting_set or person.name in self.gone:
                return
            partner = await self.checker.partner_of(person, partnership_id)
            if partner is None:
                return
            now = self.sb.clock.now()
            runs = overlap_runs(public_profile(person), public_profile(partner), now)
            zone = ZoneInfo(person.zone)
            if runs:
                start, stop = self.rng.choice(runs)
                span = max(int((stop - start).total_seconds() // 900) - 3, 0)
                moment = start + timedelta(minutes=15 * self.rng.randint(0, span))
            else:
                moment = now + timedelta(days=self.rng.randint(1, 6), hours=self.rng.randint(0, 23))
            local = moment.astimezone(zone)
            options: dict[str, object] = {
                "day": local.weekday(),
                "time": f"{local:%H:%M}",
                "zone": person.zone,
            }
            if person.rhythm == partner.rhythm == "biweekly":
                options["rhythm"] = 2
            member = self.members[person.name]
            reply = await self.act(
                person, "pair meeting", member.slash("pair meeting", options=options)
            )
            if reply is not None and reply.message is not None and "📅" in reply.text:
                self.meeting_set.add(partnership_id)
                for text in person.goals[:1]:
                    await self.act(person, "goal add", member.slash("goal add", text=text))

        return set_meeting

    # ------------------------------------------------------------------ restlessness

    def _plan_restless(self, day_end: datetime) -> None:
        """Unusual things people do now and then, at a random moment of the coming day."""
        for person in self.people:
            if person.name not in self.members or person.name in self.gone:
                continue
            if self.rng.random() >= person.restless:
                continue
            at = day_end - timedelta(minutes=self.rng.randrange(1, 24 * 60))
            choice = self.rng.choices(
                (
                    "edit",
                    "pause",
                    "snooze",
                    "checkin-time",
                    "close-dms",
                    "open-dms",
                    "end",
                    "block",
                    "report",
                    "request",
                    "goal-done",
                    "delete",
                    "bad-input",
                    "leave",
                ),
                weights=(6, 3, 3, 3, 1, 2, 1, 1, 1, 3, 4, 1, 3, 1),
            )[0]
            self.plan(at, f"{person.name} {choice}", self._restless(person, choice))

    def _restless(self, person: Person, choice: str) -> Action:
        async def act() -> None:
            if person.name in self.gone:
                return
            member = self.members[person.name]
            if choice == "edit":
                person.availability = ", ".join(
                    [
                        person.availability.split(", ")[0],
                        f"Sat {self.rng.randrange(7, 12):02d}:00-13:00",
                    ]
                )
                await self.act(
                    person,
                    "profile edit (availability)",
                    member.slash("profile edit", availability=person.availability),
                )
            elif choice == "pause":
                until = self.rng.choice(("5d", "2w", None))
                await self.act(
                    person,
                    "partner pause",
                    member.slash("partner pause", options={"until": until} if until else {}),
                )
            elif choice == "snooze":
                await self.act(
                    person,
                    "checkin snooze",
                    member.slash("checkin snooze", week=self.rng.choice(("this", "next"))),
                )
            elif choice == "checkin-time":
                day = self.rng.choice(("Monday", "Wednesday", "Friday", "Sunday", "meeting"))
                options: dict[str, object] = {"day": day}
                if day != "meeting":
                    options["time"] = (
                        f"{self.rng.randrange(7, 22):02d}:{self.rng.choice(('00', '30'))}"
                    )
                await self.act(
                    person, "checkin time", member.slash("checkin time", options=options)
                )
            elif choice == "close-dms":
                self.sb.emu.faults.close_dms(member)
                self.checker.dms_closed(member.id, True)
            elif choice == "open-dms":
                self.sb.emu.faults.open_dms(member)
                self.checker.dms_closed(member.id, False)
            elif choice == "end":
                form = await self.act(person, "pair end", member.slash("pair end"))
                if form is not None and form.modal is not None:
                    await self.act(
                        person,
                        "end reason",
                        member.submit(
                            form.modal, {"Why? (optional, private)": f"moving on {person.secret}"}
                        ),
                    )
            elif choice == "block":
                asked = await self.act(person, "pair block", member.slash("pair block"))
                if asked is not None and "Block" in asked.button_labels:
                    await self.act(person, "confirm block", member.press(asked, "Block"))
            elif choice == "report":
                form = await self.act(person, "report", member.slash("report"))
                if form is not None and form.modal is not None:
                    await self.act(
                        person,
                        "report text",
                        member.submit(
                            form.modal, {"What happened?": "They never show up and don't answer."}
                        ),
                    )
            elif choice == "request":
                await self._request(person, member)
            elif choice == "goal-done":
                await self._goal_done(person, member)
            elif choice == "delete":
                asked = await self.act(person, "privacy delete", member.slash("privacy delete"))
                if asked is not None and "Delete everything" in asked.button_labels:
                    await self.act(
                        person, "confirm delete", member.press(asked, "Delete everything")
                    )
                    self.gone.add(person.name)
                    self.checker.deleted(person)
            elif choice == "leave":
                self.sb.emu.world.remove_member(member)
                self.gone.add(person.name)
                self.checker.deleted(person)
                self.stats.counts["left the server"] += 1
            elif choice == "bad-input":
                await self._bad_input(person, member)

        return act

    async def _request(self, person: Person, member: Member) -> None:
        posts = [t for t in self.sb.forum_for(member).threads if t.messages and not t.archived]
        self.rng.shuffle(posts)
        for post in posts[:5]:
            first = post.messages[0]
            ids = [c.get("custom_id", "") for c in first.interactive_components()]
            mine = any(i == f"pairbot:request:{member.id}" for i in ids)
            if ids and not mine and any(REQUEST_BUTTON.fullmatch(i) for i in ids):
                await self.act(person, "request partnership", member.press(first, custom_id=ids[0]))
                return

    async def _goal_done(self, person: Person, member: Member) -> None:
        choices = await self._autocomplete(person, member, "goal done", "goal")
        if choices:
            await self.act(person, "goal done", member.slash("goal done", goal=choices[0]["value"]))

    async def _autocomplete(
        self, person: Person, member: Member, command: str, option: str
    ) -> list[dict[str, str]]:
        self.stats.interactions += 1
        try:
            return list(await member.autocomplete(command, option, ""))
        except EmulatorError as error:
            self.checker.problem(
                "every interaction is answered", f"{person.name} autocomplete {command}: {error}"
            )
            return []

    async def _bad_input(self, person: Person, member: Member) -> None:
        """Typos and odd values a real person types: each must get a polite answer."""
        case = self.rng.choice(
            (
                ("profile edit", {"timezone": "Mars/Olympus"}),
                ("profile edit", {"availability": "whenever lol"}),
                ("partner pause", {"until": "9999-12-31"}),
                ("goal done", {"goal": "99999999999999999999"}),
                ("goal edit", {"goal": "-1", "text": "x"}),
                ("pair meeting", {"day": 2, "time": "25:99", "zone": person.zone}),
                ("checkin time", {"day": "Monday", "time": "noonish"}),
            )
        )
        await self.act(person, f"bad input {case[0]}", member.slash(case[0], options=case[1]))


START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
"""A Monday: the US changes its clocks in the second week, Europe in the fourth, and the
southern hemisphere (Santiago, Adelaide, Sydney, Auckland, Chatham) leaves DST in the fifth."""
