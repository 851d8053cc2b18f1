"""What others see of a member: the forum post and the profile card shown to a partner.

Built from :class:`PublicProfile` only, so a private field cannot reach a post by accident.
Times are Discord timestamps, which every reader's client shows in their own local time.

A forum post stays up for weeks, and a Discord timestamp always names one instant, so the post
shows availability twice: the weekly pattern as the member wrote it, in their zone (true every
week), and the next time of each window as timestamps in the reader's own time. The post says
when those next times have to be looked at again (:attr:`Post.refresh_at`, the end of the first
of them); the outbox re-renders it then, so every listed time is always the next one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.availability import Window, mask_to_utc_intervals, utc_slot_mask
from bot.domain.availability_text import format_availability
from bot.domain.profile import RHYTHM_LABELS, PublicProfile
from bot.domain.recurrence import local_to_utc
from bot.domain.timezones import ts, validate_zone, zone_region

TITLE_MAX = 100
BODY_MAX = 1800
POST_TIMES_MAX = 7


def next_window_instants(
    windows: tuple[Window, ...], zone: str, now: datetime
) -> list[tuple[datetime, datetime]]:
    """Each weekly window's next occurrence (start, end) in UTC, in the order they come."""
    tz = validate_zone(zone)
    today = now.astimezone(tz).date()
    found = []
    for window in windows:
        ahead = (window.day - today.weekday()) % 7
        for weeks in (0, 1):
            day = today + timedelta(days=ahead + 7 * weeks)
            start = local_to_utc(day, _clock(window.start), tz)
            end = (
                local_to_utc(day + timedelta(days=1), dt.time(0), tz)
                if window.end >= 1440
                else local_to_utc(day, _clock(window.end), tz)
            )
            if end > now:
                found.append((start, end))
                break
    return sorted(found)


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def availability_lines(profile: PublicProfile, now: datetime) -> list[str]:
    """The next time of each weekly window, in the reader's own time (for a reply read now)."""
    if not profile.timezone:
        return []
    return [
        f"• {ts(start, 'F')} – {ts(end, 't')}"
        for start, end in next_window_instants(profile.windows, profile.timezone, now)
    ]


def post_availability(profile: PublicProfile, now: datetime) -> tuple[list[str], datetime | None]:
    """The post's availability: the weekly pattern in the member's zone, then the next time of
    each window in the reader's time; and when the first of those has passed (re-render then)."""
    if not profile.timezone or not profile.windows:
        return [], None
    upcoming = next_window_instants(profile.windows, profile.timezone, now)
    shown = upcoming[:POST_TIMES_MAX]
    lines = [
        f"**Available every week** ({profile.timezone} time): "
        + format_availability(profile.windows),
        "Next times, shown in your own time:",
        *(f"• {ts(start, 'F')} – {ts(end, 't')}" for start, end in shown),
    ]
    if len(upcoming) > len(shown):
        lines.append(f"…and {len(upcoming) - len(shown)} more each week")
    return lines, min((end for _, end in shown), default=None)


@dataclass(frozen=True)
class Post:
    title: str
    body: str
    tags: tuple[str, ...]
    refresh_at: datetime | None = None
    """When the first time the body lists has passed: the post must be rendered again then."""


def forum_post(profile: PublicProfile, *, display_name: str, now: datetime) -> Post:
    """The member's post in the partner-seeking forum."""
    region = zone_region(profile.timezone) if profile.timezone else None
    areas = ", ".join(profile.goal_areas) or "goals"
    title = f"{display_name} · {areas}"
    if region:
        title += f" · {region}"
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    lines = [f"**<@{profile.user_id}> is looking for an accountability partner.**"]
    if profile.intro:
        lines += ["", profile.intro]
    if profile.goals_text:
        lines += ["", "**Goals**", profile.goals_text]
    meta = []
    if profile.rhythm:
        meta.append(f"meets {RHYTHM_LABELS.get(profile.rhythm, profile.rhythm)}")
    if profile.medium:
        meta.append(f"by {profile.medium}")
    if profile.languages:
        meta.append("speaks " + ", ".join(profile.languages))
    if meta:
        text = " · ".join(meta)
        lines += ["", text[:1].upper() + text[1:]]
    times, refresh_at = post_availability(profile, now)
    body = "\n".join(lines)
    room = BODY_MAX - len(body) - 2
    if len(body) > BODY_MAX:
        body = body[: BODY_MAX - 1] + "…"
    elif times:
        # The times go last and whole: a cut timestamp would show as raw text.
        kept: list[str] = []
        for line in times:
            if sum(len(x) + 1 for x in kept) + len(line) > room:
                break
            kept.append(line)
        body += "\n\n" + "\n".join(kept)
    tags = (*profile.goal_areas, *((region,) if region else ()))
    return Post(title=title, body=body, tags=tags, refresh_at=refresh_at)


def week_start_utc(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week that contains ``moment``."""
    day = moment.astimezone(UTC).date() - timedelta(days=moment.astimezone(UTC).weekday())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def overlap_runs(
    a: PublicProfile, b: PublicProfile, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The coming times (next 7 days) when both members are available, as UTC intervals.

    Built from the same quarter-hour masks (:func:`~bot.domain.availability.utc_slot_mask`) as
    matching, on the real dates of this UTC week and the next, so the times and hours shown here
    are the ones the matcher counted, exact to the minute for every zone in use. Runs are cut
    at ``now`` and at ``now`` + 7 days, so the total is never more than a week's overlap."""
    if not (a.timezone and b.timezone and a.windows and b.windows):
        return []
    runs: list[tuple[datetime, datetime]] = []
    first = week_start_utc(now)
    for week in (first, first + timedelta(days=7)):
        both = utc_slot_mask(a.windows, a.timezone, week) & utc_slot_mask(
            b.windows, b.timezone, week
        )
        runs.extend(mask_to_utc_intervals(both, week))
    horizon = now + timedelta(days=7)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in runs:
        if end <= now or start >= horizon:
            continue
        end = min(end, horizon)  # a run at the horizon counts only up to it
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((max(start, now), end))
    return merged


def overlap_summary(a: PublicProfile, b: PublicProfile, now: datetime) -> tuple[int, list[str]]:
    """Minutes of shared availability in the coming week, and lines with Discord timestamps."""
    runs = overlap_runs(a, b, now)
    minutes = sum(int((end - start).total_seconds() // 60) for start, end in runs)
    return minutes, [f"• {ts(start, 'F')} – {ts(end, 't')}" for start, end in runs]


def request_card(requester: PublicProfile, author: PublicProfile, now: datetime) -> str:
    """What a post's author reads about someone who requested them: the public profile and
    the times both are free, in the author's own time (no private field can appear here)."""
    minutes, lines = overlap_summary(requester, author, now)
    parts = [f"**<@{requester.user_id}> would like to be your accountability partner.**"]
    if requester.intro:
        parts += ["", requester.intro]
    if requester.goals_text:
        parts += ["", "**Their goals**", requester.goals_text]
    facts = [f"goal areas: {', '.join(requester.goal_areas)}"]
    if requester.rhythm:
        facts.append(f"meets {RHYTHM_LABELS.get(requester.rhythm, requester.rhythm)}")
    if requester.languages:
        facts.append("speaks " + ", ".join(requester.languages))
    parts += ["", " · ".join(facts)]
    if lines:
        parts += ["", f"**You're both free {minutes / 60:g} h in the next 7 days** (your time):"]
        parts += lines[:8]
    else:
        parts += ["", "Your availabilities don't overlap in the next 7 days."]
    text = "\n".join(parts)
    return text if len(text) <= BODY_MAX else text[: BODY_MAX - 1] + "…"


def request_declined_text(author_user_id: int) -> str:
    """The same words whether the author declined or the request was ruled out unseen."""
    return (
        f"<@{author_user_id}> can't take on a partnership with you right now. That's okay: "
        "keep browsing the forum, and the next matching round may find you someone. 🌱"
    )


def request_accepted_text(author_user_id: int) -> str:
    return (
        f"<@{author_user_id}> accepted your partnership request! 🎉 "
        "I'll open a private space for you two."
    )
