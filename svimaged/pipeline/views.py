"""Step 4 of a pass, the pure half: each streamer folder as the outputs see it. Image
references are resolved here, after the transfers: the cached file's path as the media
server sees it (`nfo.path_map`), else the original https URL, else nothing.

What each media server is given (docs/mediaservers.md has the sources):

- season art only for seasons with a finished recording (a season whose only recording is
  still being written would show up empty);
- season thumbs in `tvshow.nfo` for Kodi only, and, when Jellyfin reads the same file, only
  once the show poster is a local file: Jellyfin takes every `<thumb aspect="poster">` as a
  show poster candidate, the first local one winning;
- an episode's thumb is its artwork, else its category's box art, else the streamer's avatar:
  every finished episode shows a picture (the box art says what was streamed; the avatar at
  least says who).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from svimaged.config import NfoConfig
from svimaged.images.tasks import ImageTask
from svimaged.library.names import is_season_folder, parse_recording_name
from svimaged.library.scan import is_finished
from svimaged.nfo.model import EpisodeInfo, SeasonInfo, SeasonThumb, ShowInfo
from svimaged.nfo.refs import reference
from svimaged.outputs.base import EpisodeView, SeasonView, ShowView
from svimaged.pipeline.items import RecordingItem, StreamerItem


@dataclass(frozen=True, slots=True)
class Refs:
    """Turns image tasks into NFO references, knowing which cache files are in place."""

    images_root: Path
    cached: frozenset[str]  # cache paths whose file is stored
    nfo: NfoConfig
    media_servers: Sequence[str] = ("kodi", "jellyfin")
    #: Whether a URL may stand in an NFO until its image is cached: only where the fetcher
    #: would go (`urlpolicy.acceptable_offline`); the default takes every https URL.
    acceptable: Callable[[str], bool] = field(default=lambda _url: True)

    def of(self, task: ImageTask | None, url: str | None = None) -> str | None:
        """The reference for `task`'s file, else for `url` (else the task's own URL), an URL
        only when the fetcher would accept it."""
        rel = task.rel if task is not None else None
        original = url if url is not None else (task.url if task is not None else None)
        if original is not None and not self.acceptable(original):
            original = None
        return reference(self.images_root, rel, self.has(task), original, self.nfo.path_map)

    def has(self, task: ImageTask | None) -> bool:
        """True when `task`'s file is in the cache."""
        return task is not None and task.rel in self.cached

    def first(self, *tasks: ImageTask | None) -> str | None:
        """The cache path of the first task whose file is stored, else of the first task."""
        present = [task for task in tasks if task is not None]
        for task in present:
            if self.has(task):
                return task.rel
        return present[0].rel if present else None


@dataclass(frozen=True, slots=True)
class _Season:
    """A season with a finished recording: its number, its recordings' categories, the
    folder holding all its recordings (none of another season), and the season-named folder
    right below the show folder they all are in (Jellyfin's and Emby's season)."""

    number: int
    categories: list[str | None]
    folder: Path | None
    top: Path | None = None


def show_view(
    item: StreamerItem,
    refs: Refs,
    categories: Mapping[str, ImageTask | None],
    *,
    now: float,
    settle_seconds: float,
) -> ShowView:
    """The view of one streamer folder. `categories` maps each category name used in the
    folder to its box art task; `item.rows` says what the recordings not read in this pass
    were last time (their season and category)."""
    seasons = _seasons(item, now, settle_seconds)
    poster = refs.of(item.profile, item.profile_url)
    season_art = {s.number: _season_poster(s, item, refs, categories) for s in seasons}
    show = ShowInfo(
        title=item.display_name,
        plot=item.description,
        user_id=item.user_id,
        poster=poster,
        fanart=refs.of(item.backdrop, item.offline_url),
        season_thumbs=_season_thumbs(season_art, refs, refs.has(item.profile)),
    )
    episodes = tuple(_episode_view(item, rec, refs) for rec in item.recordings if rec.finished)
    return ShowView(
        folder=item.folder,
        info=show,
        poster_rel=item.profile.rel if item.profile is not None else None,
        episodes=episodes,
        backdrop_rel=item.backdrop.rel if item.backdrop is not None else None,
        seasons=tuple(
            SeasonView(
                path=season.folder,
                info=SeasonInfo(
                    season.number, _season_title(season.number), season_art[season.number][0]
                ),
                poster_rel=season_art[season.number][1],
                season_folder=season.top,
            )
            for season in seasons
            if season.folder is not None or season.top is not None
        ),
    )


def _season_poster(
    season: _Season,
    item: StreamerItem,
    refs: Refs,
    categories: Mapping[str, ImageTask | None],
) -> tuple[str | None, str | None]:
    """(reference, cache path) of a season's poster as `nfo.season_poster` says: `profile`
    (the show poster), `category` (the box art of the season's most used category, else the
    show poster) or `none`."""
    mode = refs.nfo.season_poster
    if mode == "none":
        return None, None
    task = item.profile
    if mode == "category":
        used = Counter(name for name in season.categories if name)
        for name, _count in used.most_common(1):
            box = categories.get(name)
            if box is not None:
                task = box
    if task is item.profile:
        return refs.of(item.profile, item.profile_url), refs.first(item.profile)
    return refs.of(task), refs.first(task)


def _season_thumbs(
    season_art: Mapping[int, tuple[str | None, str | None]], refs: Refs, local_poster: bool
) -> tuple[SeasonThumb, ...]:
    """Season thumbs for tvshow.nfo: read by Kodi only; where Jellyfin reads the same file
    too, only once the show poster is local (else a season picture becomes the show's)."""
    if "kodi" not in refs.media_servers:
        return ()
    if "jellyfin" in refs.media_servers and not local_poster:
        return ()
    return tuple(
        SeasonThumb(season=number, ref=ref)
        for number, (ref, _rel) in sorted(season_art.items())
        if ref is not None
    )


def _season_title(number: int) -> str | None:
    """`Season 2026-11` for a year-month season number, else None (the server's own)."""
    year, month = divmod(number, 100)
    return f"Season {year:04d}-{month:02d}" if 1970 <= year <= 9999 and 1 <= month <= 12 else None


def _episode_view(item: StreamerItem, rec: RecordingItem, refs: Refs) -> EpisodeView:
    meta = rec.meta
    thumb = (
        refs.of(rec.artwork, rec.artwork_url)
        or refs.of(rec.category)
        or refs.of(item.profile, item.profile_url)
    )
    info = EpisodeInfo(
        title=meta.title,
        showtitle=item.display_name,
        season=meta.season,
        episode=meta.episode,
        aired=meta.started_at.astimezone(UTC).date() if meta.started_at else None,
        genre=meta.category_name,
        stream_id=meta.stream_id,
        thumb=thumb,
        numbered=rec.numbered,
    )
    thumb_rel = refs.first(rec.artwork, rec.category, item.profile)
    return EpisodeView(files=rec.files, info=info, thumb_rel=thumb_rel)


def _seasons(item: StreamerItem, now: float, settle: float) -> list[_Season]:
    """Every season with a finished recording in the folder (numbers and categories from
    this pass, else as last processed), with the folder that holds every finished recording
    of that season and none of another (not the show folder), and the season-named folder
    right below the show folder that does the same at any depth."""
    fresh = {rec.files.rel: rec.meta for rec in item.recordings}
    by_season: dict[int, list[str | None]] = defaultdict(list)
    # Folders by their path relative to the recordings ("<show>/<sub>/..."): strings, not
    # a Path per recording.
    holds: dict[str, set[int | None]] = defaultdict(set)  # folder -> seasons in it (direct)
    tops: dict[str, set[int | None]] = defaultdict(set)  # top folder -> seasons below it
    homes: dict[int, set[str]] = defaultdict(set)
    top_of: dict[int, set[str | None]] = defaultdict(set)
    show = item.folder.name
    for files in item.folder.recordings:
        meta = fresh.get(files.rel)
        row = item.rows.get(files.rel)
        if meta is not None:
            season, category = meta.season, meta.category_name
        elif row is not None:
            season, category = row.season, row.category
        else:
            season, category = parse_recording_name(files.stem, item.folder.name).season, None
        since = row.unchanged_since(files.signature) if row is not None else None
        if not is_finished(files.mtime_ns, now, settle, unchanged_since=since):
            continue
        parent = files.rel.rpartition("/")[0]
        top = "/".join(parent.split("/", 2)[:2]) if parent != show else None
        holds[parent].add(season)
        if top is not None:
            tops[top].add(season)
        if season is not None:
            by_season[season].append(category)
            homes[season].add(parent)
            top_of[season].add(top)
    root = item.folder.path.parent
    found: list[_Season] = []
    for number in sorted(by_season):
        home = _only(homes[number])
        folder = home if home is not None and home != show and holds[home] == {number} else None
        top = _only(top_of[number])
        if top is None or tops[top] != {number} or not is_season_folder(top.rpartition("/")[2]):
            top = None
        found.append(
            _Season(
                number,
                by_season[number],
                root / folder if folder is not None else None,
                root / top if top is not None else None,
            )
        )
    return found


def _only(paths: set[str] | set[str | None]) -> str | None:
    """The one path of a set of one, else None."""
    return next(iter(paths)) if len(paths) == 1 else None
