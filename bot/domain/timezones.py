"""Time zones members can find by typing, and strict validation of what they submit.

Discord does not enforce autocomplete values, so whatever arrives is checked by
:func:`validate_zone`: only names in :func:`zoneinfo.available_timezones` spelled exactly are
accepted, and nothing else ever reaches ``ZoneInfo(...)`` (which reads files named after its key).

Zone data comes from one place, :func:`_load_tzdb`: the stdlib's list of zone names plus the
``zone.tab`` and ``iso3166.tab`` tables and link lines of ``tzdata.zi`` shipped in the ``tzdata``
package (a project dependency). ``zone.tab`` rather than ``zone1970.tab`` is used for countries
because it lists each country's own zones (Norway → Europe/Oslo), which is what people recognise;
``zone1970.tab`` folds Norway into Europe/Berlin. Without the ``tzdata`` package, search by country
simply finds nothing; everything else works.

Regions (for forum tags) are "Americas", "Europe", "Africa", "Asia" and "Oceania". "Oceania"
(Australia, New Zealand, the Pacific islands) is used rather than "Asia-Pacific" so that no zone
belongs to two tags; India and the rest of South, East and South-East Asia are "Asia".
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import logging
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from bot.domain.errors import TimeZoneError, echo

log = logging.getLogger(__name__)

Region = Literal["Americas", "Europe", "Africa", "Asia", "Oceania"]
REGIONS: Final[tuple[Region, ...]] = ("Americas", "Europe", "Africa", "Asia", "Oceania")

MAX_CHOICES: Final = 25
"""Discord shows at most 25 autocomplete choices."""
MAX_LABEL: Final = 100
"""Discord's limit on a choice's name."""
MAX_ZONE_INPUT: Final = 64
"""Longer than any IANA name (the longest is 32 characters); longer input is refused unread."""

POPULAR_ZONES: Final[tuple[str, ...]] = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
"""Offered for an empty query (sorted west to east by their offset at that moment)."""

_CET = (
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Rome",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Warsaw",
)
_EET = ("Europe/Athens", "Europe/Helsinki", "Europe/Bucharest", "Europe/Kyiv", "Africa/Cairo")
_ET = ("America/New_York", "America/Toronto", "America/Detroit")
_CT = ("America/Chicago", "America/Winnipeg", "America/Mexico_City")
_MT = ("America/Denver", "America/Edmonton", "America/Phoenix")
_PT = ("America/Los_Angeles", "America/Vancouver", "America/Tijuana")
_AET = ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Hobart")
_ACT = ("Australia/Adelaide", "Australia/Darwin")

ABBREVIATIONS: Final[dict[str, tuple[str, ...]]] = {
    "UTC": ("UTC",),
    "GMT": ("UTC", "Europe/London"),
    "BST": ("Europe/London",),
    "IST": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "WET": ("Europe/Lisbon", "Atlantic/Canary"),
    "WEST": ("Europe/Lisbon", "Atlantic/Canary"),
    "CET": _CET,
    "CEST": _CET,
    "EET": _EET,
    "EEST": _EET,
    "MSK": ("Europe/Moscow",),
    "TRT": ("Europe/Istanbul",),
    "WAT": ("Africa/Lagos",),
    "CAT": ("Africa/Maputo", "Africa/Harare"),
    "SAST": ("Africa/Johannesburg",),
    "EAT": ("Africa/Nairobi",),
    "GST": ("Asia/Dubai",),
    "PKT": ("Asia/Karachi",),
    "NPT": ("Asia/Kathmandu",),
    "ICT": ("Asia/Bangkok", "Asia/Ho_Chi_Minh"),
    "WIB": ("Asia/Jakarta",),
    "SGT": ("Asia/Singapore",),
    "HKT": ("Asia/Hong_Kong",),
    "PHT": ("Asia/Manila",),
    "KST": ("Asia/Seoul",),
    "JST": ("Asia/Tokyo",),
    "AWST": ("Australia/Perth",),
    "ACST": _ACT,
    "ACDT": _ACT,
    "AEST": _AET,
    "AEDT": _AET,
    "NZST": ("Pacific/Auckland",),
    "NZDT": ("Pacific/Auckland",),
    "EST": _ET,
    "EDT": _ET,
    "ET": _ET,
    "CST": (*_CT, "Asia/Shanghai"),
    "CDT": _CT,
    "CT": _CT,
    "MST": _MT,
    "MDT": _MT,
    "MT": _MT,
    "PST": _PT,
    "PDT": _PT,
    "PT": _PT,
    "AKST": ("America/Anchorage",),
    "AKDT": ("America/Anchorage",),
    "HST": ("Pacific/Honolulu",),
    "AST": ("America/Halifax", "America/Puerto_Rico", "Asia/Riyadh"),
    "ADT": ("America/Halifax",),
    "NST": ("America/St_Johns",),
    "NDT": ("America/St_Johns",),
    "BRT": ("America/Sao_Paulo",),
    "ART": ("America/Argentina/Buenos_Aires",),
}
"""Abbreviations people type, mapped to the zones they most likely mean, likeliest first.

Abbreviations are ambiguous (IST is India, Ireland or Israel; CST is US Central or China), so
they only steer search; they are never accepted as a zone by :func:`validate_zone` except where
they are real IANA names themselves (UTC).
"""

COUNTRY_ALIASES: Final[dict[str, str]] = {
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "uk": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "south korea": "KR",
    "north korea": "KP",
    "czechia": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "emirates": "AE",
    "ivory coast": "CI",
    "turkiye": "TR",
    "burma": "MM",
    "swaziland": "SZ",
    "east timor": "TL",
    "american samoa": "AS",
    "dr congo": "CD",
    "congo": "CG",
}
"""Everyday names for countries that ``iso3166.tab`` spells differently."""

_EXCLUDED: Final = frozenset({"localtime", "Factory", "posixrules"})
"""Host-dependent or meaningless entries some systems list among zone names."""

_AREA_REGIONS: Final[dict[str, Region]] = {
    "Africa": "Africa",
    "America": "Americas",
    "US": "Americas",
    "Canada": "Americas",
    "Brazil": "Americas",
    "Mexico": "Americas",
    "Chile": "Americas",
    "Asia": "Asia",
    "Europe": "Europe",
    "Arctic": "Europe",
    "Australia": "Oceania",
    "Pacific": "Oceania",
}

_ZONE_REGIONS: Final[dict[str, Region]] = {
    "Asia/Nicosia": "Europe",
    "Asia/Famagusta": "Europe",
    "Pacific/Honolulu": "Americas",
    "Pacific/Johnston": "Americas",
    "Pacific/Galapagos": "Americas",
    "Pacific/Easter": "Americas",
    "Atlantic/Azores": "Europe",
    "Atlantic/Madeira": "Europe",
    "Atlantic/Canary": "Europe",
    "Atlantic/Faroe": "Europe",
    "Atlantic/Reykjavik": "Europe",
    "Atlantic/Bermuda": "Americas",
    "Atlantic/Stanley": "Americas",
    "Atlantic/South_Georgia": "Americas",
    "Atlantic/Cape_Verde": "Africa",
    "Atlantic/St_Helena": "Africa",
    "Indian/Maldives": "Asia",
    "Indian/Chagos": "Asia",
    "Indian/Christmas": "Asia",
    "Indian/Cocos": "Asia",
    "Indian/Kerguelen": "Asia",
    "Indian/Mauritius": "Africa",
    "Indian/Reunion": "Africa",
    "Indian/Mahe": "Africa",
    "Indian/Mayotte": "Africa",
    "Indian/Comoro": "Africa",
    "Indian/Antananarivo": "Africa",
    "Antarctica/McMurdo": "Oceania",
    "Antarctica/Macquarie": "Oceania",
    "Antarctica/Palmer": "Americas",
    "Antarctica/Rothera": "Americas",
    "Antarctica/Troll": "Europe",
}
"""Zones whose area prefix doesn't say which tag their members would look for."""


@dataclass(frozen=True)
class ZoneChoice:
    """One autocomplete choice: ``name`` is the value, ``label`` what the member reads."""

    name: str
    label: str


@dataclass(frozen=True)
class _Zone:
    name: str
    key: str
    city: str
    words: tuple[str, ...]
    canonical: bool
    countries: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class _Index:
    names: frozenset[str]
    zones: tuple[_Zone, ...]
    by_name: dict[str, _Zone]
    by_key: dict[str, str]
    links: dict[str, str]
    country_zones: dict[str, tuple[str, ...]]
    country_names: dict[str, str]


@dataclass(frozen=True)
class _TzTables:
    zone_tab: str = ""
    iso3166_tab: str = ""
    tzdata_zi: str = ""


def _load_tzdb() -> tuple[frozenset[str], _TzTables]:
    """Zone names and tzdata's tables: the one place this module reads zone lists from disk."""
    names = frozenset(zoneinfo.available_timezones())
    try:
        root = importlib.resources.files("tzdata").joinpath("zoneinfo")
        tables = _TzTables(
            zone_tab=root.joinpath("zone.tab").read_text(encoding="utf-8"),
            iso3166_tab=root.joinpath("iso3166.tab").read_text(encoding="utf-8"),
            tzdata_zi=root.joinpath("tzdata.zi").read_text(encoding="utf-8"),
        )
    except (ModuleNotFoundError, OSError):
        log.warning("tzdata tables not found; searching time zones by country is unavailable")
        tables = _TzTables()
    return names, tables


def _fold(text: str) -> str:
    """Case-, accent- and separator-insensitive form used for matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.casefold().replace("_", " ").replace("-", " ")
    return " ".join(plain.split())


def _rows(table: str) -> Iterable[list[str]]:
    for line in table.splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def _build_index(names: frozenset[str], tables: _TzTables) -> _Index:
    usable = frozenset(
        n for n in names if n not in _EXCLUDED and not n.startswith(("posix/", "right/"))
    )
    country_zones: dict[str, list[str]] = {}
    zone_countries: dict[str, list[str]] = {}
    comments: dict[str, str] = {}
    for row in _rows(tables.zone_tab):
        if len(row) < 3 or row[2] not in usable:
            continue
        country_zones.setdefault(row[0], []).append(row[2])
        zone_countries.setdefault(row[2], []).append(row[0])
        if len(row) > 3:
            comments[row[2]] = _fold(row[3])

    country_names: dict[str, str] = {}
    for row in _rows(tables.iso3166_tab):
        if len(row) < 2:
            continue
        code, name = row[0], row[1]
        base = name.split("(")[0].replace("&", "and")
        for variant in {name.replace("&", "and"), base, name.replace("(", "").replace(")", "")}:
            country_names.setdefault(_fold(variant).rstrip("."), code)
    for code in country_zones:
        country_names.setdefault(code.casefold(), code)
    for alias, code in COUNTRY_ALIASES.items():
        country_names[alias] = code

    links: dict[str, str] = {}
    for line in tables.tzdata_zi.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L":
            links[parts[2]] = parts[1]

    canonical = set(zone_countries) | ({"UTC"} & usable)
    zones = []
    for name in sorted(usable):
        countries = zone_countries.get(name, [])
        zones.append(
            _Zone(
                name=name,
                key=_fold(name),
                city=_fold(name.rsplit("/", 1)[-1]),
                words=tuple(_fold(name.replace("/", " ")).split()),
                canonical=name in canonical,
                countries=tuple(countries),
                comment=comments.get(name, ""),
            )
        )
    by_key: dict[str, str] = {}
    for zone in sorted(zones, key=lambda z: not z.canonical):
        by_key.setdefault(zone.key, zone.name)
    return _Index(
        names=usable,
        zones=tuple(zones),
        by_name={zone.name: zone for zone in zones},
        by_key=by_key,
        links=links,
        country_zones={c: tuple(z) for c, z in country_zones.items()},
        country_names=country_names,
    )


@functools.cache
def _index() -> _Index:
    names, tables = _load_tzdb()
    return _build_index(names, tables)


def is_known_zone(name: str) -> bool:
    """True if ``name`` is exactly an accepted IANA zone name (cheap; reads nothing)."""
    return name in _index().names


_POPULARITY = {name: rank for rank, name in enumerate(POPULAR_ZONES)}


def _rank(query: str) -> list[str]:
    """Zone names matching ``query``, best first (see :func:`search_zones` for the tiers)."""
    index = _index()
    q = _fold(query[:MAX_ZONE_INPUT])
    if not q:
        return []
    scores: dict[str, tuple[int, int, int, int, str]] = {}

    def offer(zone: _Zone, tier: int, order: int = 0) -> None:
        score = (
            tier,
            0 if zone.canonical else 1,
            order,
            _POPULARITY.get(zone.name, len(_POPULARITY)),
            zone.name,
        )
        if zone.name not in scores or score < scores[zone.name]:
            scores[zone.name] = score

    for order, name in enumerate(ABBREVIATIONS.get(query.strip().upper(), ())):
        if name in index.by_name:
            offer(index.by_name[name], 1, order)

    exact_countries = {index.country_names[q]} if q in index.country_names else set()
    prefix_countries = (
        {code for name, code in index.country_names.items() if name.startswith(q)}
        if len(q) >= 3
        else set()
    )
    country_order = {
        name: order
        for codes in (exact_countries, prefix_countries)
        for code in sorted(codes)
        for order, name in enumerate(index.country_zones.get(code, ()))
    }

    for zone in index.zones:
        if zone.key == q or zone.city == q:
            offer(zone, (0 if zone.key == q else 2) if zone.canonical else 4)
        elif zone.city.startswith(q) or zone.key.startswith(q):
            offer(zone, 4)
        if exact_countries.intersection(zone.countries):
            offer(zone, 3, country_order.get(zone.name, 0))
        elif prefix_countries.intersection(zone.countries):
            offer(zone, 5, country_order.get(zone.name, 0))
        if any(word.startswith(q) for word in zone.words):
            offer(zone, 6)
        if len(q) >= 3:
            if q in zone.key:
                offer(zone, 7)
            elif q in zone.comment:
                offer(zone, 8)
    return sorted(scores, key=scores.__getitem__)


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def zone_label(name: str, now: datetime) -> str:
    """``"Europe/Berlin — 14:05 (UTC+01:00)"``: the zone with its local time at ``now``."""
    local = now.astimezone(_zoneinfo(name))
    offset = local.utcoffset() or timedelta(0)
    suffix = f" — {local:%H:%M} ({_offset_text(offset)})"
    shown = name if len(name) + len(suffix) <= MAX_LABEL else name[: MAX_LABEL - len(suffix) - 1]
    return shown + suffix


def search_zones(query: str, *, now: datetime, limit: int = MAX_CHOICES) -> list[ZoneChoice]:
    """Autocomplete choices for what a member has typed so far.

    Matching ignores case, accents, ``_`` and ``-``. Results are ranked in tiers: the exact
    zone name; zones for a typed abbreviation (CET, PST, ...); city part equal to the
    query; zones of a country named exactly (``zone.tab`` order, so its main zone comes first);
    city part or full name starting with the query; zones of a country whose name starts with it;
    any word of the name starting with it; the query inside the name; inside ``zone.tab``'s
    description ("eastern"). Legacy names (``Japan``, ``CET``, ``US/Eastern``) rank as prefix
    matches at best and, within a tier, after current names; then popular zones come first.
    An empty query offers :data:`POPULAR_ZONES`. Never more than ``min(limit, 25)`` choices.
    """
    if now.tzinfo is None:
        raise ValueError("search_zones needs an aware 'now'")
    limit = max(0, min(limit, MAX_CHOICES))
    if not query.strip():
        popular = [n for n in POPULAR_ZONES if is_known_zone(n)]
        popular.sort(key=lambda n: now.astimezone(_zoneinfo(n)).utcoffset() or timedelta(0))
        names = popular
    else:
        names = _rank(query)
    return [ZoneChoice(name=n, label=zone_label(n, now)) for n in names[:limit]]


def _suggestions(text: str, limit: int = 3) -> tuple[str, ...]:
    index = _index()
    found: list[str] = []

    def add(names: Iterable[str]) -> None:
        for name in names:
            if name not in found and len(found) < limit:
                found.append(name)

    key = _fold(text)
    if key in index.by_key:
        add([index.by_key[key]])
    add(_rank(text))
    last = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if last != text:
        add(_rank(last))
    if len(found) < limit:
        cities = {z.city: z.name for z in index.zones if z.canonical}
        add(cities[c] for c in difflib.get_close_matches(_fold(last), cities, n=limit, cutoff=0.75))
    return tuple(found)


def _or_list(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def validate_zone(text: str) -> zoneinfo.ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` for an exact IANA name, or :class:`TimeZoneError`.

    Surrounding spaces are ignored; everything else must match a known name exactly (case
    included), so ``europe/berlin`` is refused with "Did you mean Europe/Berlin?". The membership
    check comes first, so no path-like string ever reaches ``ZoneInfo``.
    """
    name = text.strip()
    if not name:
        raise TimeZoneError(
            "Please tell me your time zone, for example Europe/Berlin or America/New_York."
        )
    if len(name) > MAX_ZONE_INPUT:
        raise TimeZoneError(
            "That's too long to be a time zone. Pick one from the list, for example Europe/Berlin."
        )
    if is_known_zone(name):
        return _zoneinfo(name)
    suggestions = _suggestions(name)
    shown = echo(name)
    if suggestions:
        message = f"I don't know the time zone “{shown}”. Did you mean {_or_list(suggestions)}?"
    else:
        message = (
            f"I don't know the time zone “{shown}”. "
            "Pick one from the list, for example Europe/Berlin or America/New_York."
        )
    raise TimeZoneError(message, suggestions=suggestions)


def _zoneinfo(name: str) -> zoneinfo.ZoneInfo:
    """``ZoneInfo`` for a name already known to be in the accepted set."""
    if not is_known_zone(name):
        raise TimeZoneError(f"I don't know the time zone “{echo(name)}”.")
    return zoneinfo.ZoneInfo(name)


_REFERENCE_INSTANTS: Final = (datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 7, 15, tzinfo=UTC))


def zone_region(zone: str | zoneinfo.ZoneInfo) -> Region:
    """The forum-tag region of a zone.

    Decided by the zone's area (``Europe/``, ``America/``, ...), or its link target's for
    names without one (``Japan`` → ``Asia/Tokyo``), with a short table for ocean and Antarctic
    zones and a few exceptions (Cyprus → Europe; Hawaii, Galápagos, Easter Island → Americas).
    Zones with no place at all (``UTC``, ``Etc/GMT+5``, ``EST5EDT``) go by their standard UTC
    offset: below −02:30 Americas, below +03:30 Europe, below +10:00 Asia, else Oceania.
    """
    if isinstance(zone, zoneinfo.ZoneInfo):
        tz = zone
        name = zone.key or ""
    else:
        tz = validate_zone(zone)
        name = zone.strip()
    for candidate in (name, _index().links.get(name, name)):
        if candidate in _ZONE_REGIONS:
            return _ZONE_REGIONS[candidate]
        area = candidate.split("/", 1)[0] if "/" in candidate else ""
        if area in _AREA_REGIONS:
            return _AREA_REGIONS[area]
    standard = min(
        (moment.astimezone(tz).utcoffset() or timedelta(0)) for moment in _REFERENCE_INSTANTS
    )
    hours = standard.total_seconds() / 3600
    if hours < -2.5:
        return "Americas"
    if hours < 3.5:
        return "Europe"
    if hours < 10:
        return "Asia"
    return "Oceania"


def ts(moment: datetime, style: str = "f") -> str:
    """A Discord timestamp: every reader sees ``moment`` in their own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"
