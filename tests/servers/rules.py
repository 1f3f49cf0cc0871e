"""What Jellyfin and Plex show for a library, by their own rules as docs/mediaservers.md gives
them from their source: small, strict emulations of the image look-ups, so a test can say
"every show, season and episode has a picture in server X" without running the server.

Jellyfin: a show's primary image is the first `<thumb>` of `tvshow.nfo` whose aspect maps to
Primary (no aspect, `poster`, anything not banner/clearlogo/discart/landscape/clearart/fanart)
and whose value is an absolute path to an existing file; else `poster|folder|cover|default|
show.*` in the show folder. Every folder right below a show folder that holds a video (at any
depth) is a season (`SeasonResolver.cs`); its image is `season.nfo`'s first such thumb, else
`poster|folder|cover|default.*` in that folder. An episode's is `<stem>.nfo`'s, else
`<stem>.jpg` / `<stem>-thumb.jpg`; its season and episode numbers come from `<season>` and
`<episode>` in `<stem>.nfo` whatever the root element (`BaseNfoParser.cs`), since names with a
season above 2500 give none. Relative paths and `file://` never load.

Plex (Local Media Assets): show poster `(show|poster|folder)-?[0-9]?` in an episode's folder,
its parent or grandparent; season poster `season-?0?<N>[-a-z]?(-poster)?` there too; episode
thumb `<stem>(-|-thumb)?[0-9]?` in the episode's folder; extensions jpg, jpeg, png, tbn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

_NOT_PRIMARY = {"banner", "clearlogo", "discart", "landscape", "clearart", "fanart"}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tbn", ".gif")
_PLEX_SUFFIXES = ("jpg", "jpeg", "png", "tbn")
_SEASON_IN_NAME = re.compile(r"[Ss](?P<season>[0-9]{1,6})[Ee][0-9]{1,4}")


def _root(path: Path) -> etree._Element | None:
    try:
        return etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False))
    except (OSError, etree.XMLSyntaxError):
        return None


def nfo_primary(path: Path) -> Path | None:
    """The image Jellyfin takes as Primary from an NFO: the first root `<thumb>` whose aspect
    maps to Primary and whose value is an absolute path to an existing file."""
    root = _root(path)
    if root is None:
        return None
    for thumb in root.findall("thumb"):
        aspect = (thumb.get("aspect") or "poster").lower()
        value = (thumb.text or "").strip()
        if aspect in _NOT_PRIMARY or not value.startswith("/"):
            continue
        if Path(value).is_file():
            return Path(value)
    return None


def _named(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        for suffix in _IMAGE_SUFFIXES:
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


@dataclass
class Seen:
    """What a server shows: a picture per show, season and episode, or the items without."""

    shows: dict[str, Path | None] = field(default_factory=dict)
    seasons: dict[str, Path | None] = field(default_factory=dict)
    episodes: dict[str, Path | None] = field(default_factory=dict)
    numbers: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # Jellyfin only

    def unnumbered(self) -> list[str]:
        """Every episode without a season and episode number."""
        return sorted(name for name, pair in self.numbers.items() if pair is None)

    def missing(self) -> list[str]:
        """Every item without a picture."""
        items = {**self.shows, **self.seasons, **self.episodes}
        return sorted(name for name, image in items.items() if image is None)


def videos(show: Path) -> list[Path]:
    """The recordings of a show folder (the suffixes svimaged reads)."""
    suffixes = {".mp4", ".mkv", ".ts", ".flv", ".m4v"}
    return sorted(
        p
        for p in show.rglob("*")
        if p.suffix.lower() in suffixes and not any(part.startswith(".") for part in p.parts)
    )


def jellyfin(recordings: Path, *, finished: set[Path]) -> Seen:
    """What Jellyfin shows for every show folder of `recordings` and its `finished` videos."""
    seen = Seen()
    for show in sorted(
        p for p in recordings.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        seen.shows[show.name] = nfo_primary(show / "tvshow.nfo") or _named(
            show, ("poster", "folder", "cover", "default", "show")
        )
        for video in videos(show):
            if video not in finished:
                continue
            folder = video.parent
            if folder != show:
                season = show / video.relative_to(show).parts[0]
                key = str(season.relative_to(recordings))
                if key not in seen.seasons:
                    seen.seasons[key] = nfo_primary(season / "season.nfo") or _named(
                        season, ("poster", "folder", "cover", "default")
                    )
            name = str(video.relative_to(recordings))
            seen.episodes[name] = nfo_primary(video.with_suffix(".nfo")) or _named(
                folder, (video.stem, f"{video.stem}-thumb")
            )
            seen.numbers[name] = nfo_numbers(video.with_suffix(".nfo"))
    return seen


def nfo_numbers(path: Path) -> tuple[int, int] | None:
    """`<season>` and `<episode>` of an episode NFO (any root element), if both are numbers."""
    root = _root(path)
    if root is None:
        return None
    season, episode = root.findtext("season"), root.findtext("episode")
    try:
        return (int((season or "").strip()), int((episode or "").strip()))
    except ValueError:
        return None


def _plex(folder: Path, pattern: str) -> Path | None:
    regex = re.compile(rf"{pattern}\.({'|'.join(_PLEX_SUFFIXES)})", re.IGNORECASE)
    for path in sorted(folder.iterdir()):
        if path.is_file() and regex.fullmatch(path.name):
            return path
    return None


def plex(recordings: Path, *, finished: set[Path]) -> Seen:
    """What Plex's Local Media Assets show for `recordings` (seasons from `S…E…` names)."""
    seen = Seen()
    for show in sorted(
        p for p in recordings.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        shown = None
        for video in videos(show):
            if video not in finished:
                continue
            folders = [video.parent, video.parent.parent, video.parent.parent.parent]
            folders = [f for f in folders if f == recordings or recordings in f.parents]
            shown = shown or next(
                (hit for f in folders if (hit := _plex(f, r"(show|poster|folder)-?[0-9]?"))),
                None,
            )
            match = _SEASON_IN_NAME.search(video.stem)
            if match is not None:
                number = int(match["season"])
                key = f"{show.name} season {number}"
                pattern = rf"season-?0?{number}[-a-z]?(-poster)?"
                hit = next((h for f in folders if (h := _plex(f, pattern))), None)
                seen.seasons[key] = seen.seasons.get(key) or hit
            seen.episodes[str(video.relative_to(recordings))] = _plex(
                video.parent, rf"{re.escape(video.stem)}(-|-thumb)?[0-9]?"
            )
        if any(video in finished for video in videos(show)):  # Plex lists shows with episodes
            seen.shows[show.name] = shown
    return seen
