"""Source 4 of contract section 2: what the file and folder names say. Pure functions only.

StreamVault names a recording `<login> - SYYYYMMENN - <title>` inside
`<Streamer Display Name>/Season YYYY-MM/`. Season and episode are taken exactly as the name
says (`S202611E03` -> season 202611, episode 3), so NFO, file name and season folder agree.
"""

from __future__ import annotations

import re

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


def normalize_login(value: str | None) -> str | None:
    """`value` lowercased and stripped if it is a valid Twitch login, else None."""
    if value is None:
        return None
    login = value.strip().lower()
    return login if LOGIN_RE.fullmatch(login) else None


def parse_recording_name(stem: str, streamer_folder: str) -> RecordingMeta:
    """What the recording's file stem and its streamer folder's name say.

    - `<login> - SYYYYMMENN - <title>` (title optional): login (lowercased; None unless it
      matches `LOGIN_RE`), season, episode, title.
    - A stem that only contains an `SxxEyy` part somewhere: season and episode from it; the
      text after it (separators trimmed), else the text before it, as title.
    - Anything else: the whole stem as title.
    The login falls back to the streamer folder's name lowercased when it is a valid login;
    `display_name` is the streamer folder's name. Never raises.
    """
    login: str | None = None
    season: int | None = None
    episode: int | None = None
    title: str | None
    full = _FULL.fullmatch(stem)
    if full is not None:
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
    return RecordingMeta(
        login=login or normalize_login(streamer_folder),
        display_name=_text(streamer_folder),
        title=_text(title),
        season=season,
        episode=episode,
    )


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None
