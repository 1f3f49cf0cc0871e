"""Source 4 of contract section 2: what the file and folder names say. Pure functions only.

StreamVault names a recording `<login> - SYYYYMMENN - <title>` inside
`<Streamer Display Name>/Season YYYY-MM/`. Season and episode are taken exactly as the name
says (`S202611E03` -> season 202611, episode 3), so NFO, file name and season folder agree.

Streamlink recorders (ancalentari/twitch-stream-recorder and scripts in its style) name a
recording `<login> - YYYY-MM-DD HHhMMmSSs - <title>` in the recording host's local time; any
other `YYYY-MM-DD HH-MM-SS`-like date and time in a name is read as a start time too. Both are
in the time zone the caller gives (the `timezone` setting), unless a `Z` follows the time
(LiveStreamDVR's `2026-11-28T18_02_11Z`: UTC). twitch-archiver names each video's
folder `<YYYY-MM-DD_HH-MM-SS> - <title> - <vod id or STREAM_ONLY>`, in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from svimaged.core.model import RecordingMeta

#: Twitch login rules, checked after lowercasing (ASCII only).
LOGIN_RE = re.compile(r"[a-z0-9_]{1,25}")

# `S` + 1..6 digits + `E` + 1..4 digits, not glued to other letters or digits. ASCII digits
# only: `\d` would accept other scripts' digits, which no file name means as a season.
_SEASON_EPISODE = (
    r"(?<![A-Za-z0-9])[Ss](?P<season>[0-9]{1,6})[Ee](?P<episode>[0-9]{1,4})(?![A-Za-z0-9])"
)
_FULL = re.compile(
    r"(?P<login>[^\s]+)\s+-\s+" + _SEASON_EPISODE + r"(?:\s+-\s+(?P<title>.*))?",
    re.DOTALL,
)
_PART = re.compile(_SEASON_EPISODE)
_SEPARATORS = " -_."
_RECORDER = re.compile(
    r"(?P<login>[^\s]+) - (?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2}) "
    r"(?P<hour>[0-9]{2})h(?P<minute>[0-9]{2})m(?P<second>[0-9]{2})s(?: - (?P<title>.*))?",
    re.DOTALL,
)
# A date and a time in a name: `2026-11-28 19-02-24`, `2026-11-28_19h02m24s`, `20261128_190224`.
_DATE_TIME = re.compile(
    r"(?<![0-9])(?P<date>[0-9]{4}-?[0-9]{2}-?[0-9]{2})[ _T.-]"
    r"(?P<hour>[0-9]{2})[-_:h.]?(?P<minute>[0-9]{2})[-_:m.]?(?P<second>[0-9]{2})s?(?P<utc>Z)?"
    r"(?![0-9])"
)
_SEASON_FOLDER = re.compile(
    r"(?:(?:season|staffel|saison|temporada|stagione|seizoen|sezon)[ ._-]*)?[0-9][0-9 ._-]*"
    r"|[Ss][0-9]{1,4}|specials",
    re.IGNORECASE,
)
_ARCHIVE_FOLDER = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})_(?P<hour>[0-9]{2})-(?P<minute>[0-9]{2})-"
    r"(?P<second>[0-9]{2}) - (?P<title>.*) - (?P<id>[0-9]{1,20}|STREAM_ONLY)",
    re.DOTALL,
)


def normalize_login(value: str | None) -> str | None:
    """`value` lowercased and stripped if it is a valid Twitch login, else None."""
    if value is None:
        return None
    login = value.strip().lower()
    return login if LOGIN_RE.fullmatch(login) else None


def parse_recording_name(
    stem: str, streamer_folder: str, *, tz: tzinfo | None = UTC
) -> RecordingMeta:
    """What the recording's file stem and its streamer folder's name say.

    - `<login> - SYYYYMMENN - <title>` (title optional): login (lowercased; None unless it
      matches `LOGIN_RE`), season, episode, title.
    - `<login> - YYYY-MM-DD HHhMMmSSs - <title>` (a streamlink recorder): login, start time
      in `tz` (None: the host's local time), title.
    - A stem that only contains an `SxxEyy` part somewhere: season and episode from it; the
      text after it (separators trimmed), else the text before it, as title.
    - Anything else: the whole stem as title.
    A date and time anywhere in the stem gives the start time (in `tz`) when nothing else
    did. The login falls back to the streamer folder's name lowercased when it is a valid
    login; `display_name` is the streamer folder's name. Never raises.
    """
    login: str | None = None
    season: int | None = None
    episode: int | None = None
    started_at: datetime | None = None
    title: str | None
    full = _FULL.fullmatch(stem)
    recorder = _RECORDER.fullmatch(stem) if full is None else None
    if recorder is not None:
        login = normalize_login(recorder["login"])
        started_at = _moment(recorder, tz)
        title = recorder["title"]
    elif full is not None:
        login = normalize_login(full["login"])
        season, episode = int(full["season"]), int(full["episode"])
        title = full["title"]
    else:
        part = _PART.search(stem)
        if part is not None:
            season, episode = int(part["season"]), int(part["episode"])
            after = stem[part.end() :].strip(_SEPARATORS)
            title = after or stem[: part.start()].strip(_SEPARATORS)
        else:
            title = stem
    if started_at is None:
        moment = _DATE_TIME.search(stem)
        if moment is not None:
            started_at = _moment(moment, UTC if moment["utc"] else tz)
    return RecordingMeta(  # positional (one per recording; keywords take twice as long)
        login or normalize_login(streamer_folder),  # login
        None,  # user_id
        _text(streamer_folder),  # display_name
        _text(title),  # title
        None,  # category_name
        None,  # category_id
        None,  # stream_id
        None,  # local_id
        None,  # local_streamer_id
        started_at,  # started_at
        season,  # season
        episode,  # episode
    )


def parse_archive_folder(name: str) -> RecordingMeta:
    """What a twitch-archiver video folder's name says (`<YYYY-MM-DD_HH-MM-SS> - <title> -
    <vod id>`, UTC): title, start time and the VOD id (None for `STREAM_ONLY`); nothing for
    any other name. Never raises."""
    match = _ARCHIVE_FOLDER.fullmatch(name)
    if match is None:
        return RecordingMeta()
    vod_id = match["id"] if match["id"].strip("0").isdigit() else None
    return RecordingMeta(
        title=_text(match["title"]), started_at=_moment(match, UTC), local_id=vod_id
    )


def is_season_folder(name: str) -> bool:
    """True for a folder name a media server takes for a season: `Season 2026-11` (or
    `Season 3`, `Staffel 3`...), `S3`, `Specials`, or only digits and separators (`2026-11`,
    `202611`). An archiver's per-recording folder (`2026-11-28-2637788990-archive-...`,
    `alice_plays_2026-11-28T18_02_11Z_319876543210`) is not one."""
    return bool(_SEASON_FOLDER.fullmatch(name.strip()))


def _moment(match: re.Match[str], tz: tzinfo | None) -> datetime | None:
    """The match's `date`, `hour`, `minute`, `second` groups as a UTC time: a wall-clock time
    in `tz` (None: the host's local time). None for an impossible date or time."""
    digits = match["date"].replace("-", "")
    try:
        wall = datetime(
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
        local = wall.replace(tzinfo=tz) if tz is not None else wall.astimezone()
        return local.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None
