"""Step 4 of a pass, the pure half: each streamer folder as the outputs see it. Image
references are resolved here, after the transfers: the cached file's path as the media
server sees it (`nfo.path_map`), else the original https URL, else nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from svimaged.config import NfoConfig
from svimaged.images.tasks import ImageTask
from svimaged.library.names import parse_recording_name
from svimaged.nfo.model import EpisodeInfo, ShowInfo
from svimaged.nfo.refs import reference, season_thumbs
from svimaged.outputs.base import EpisodeView, ShowView
from svimaged.pipeline.items import RecordingItem, StreamerItem


@dataclass(frozen=True, slots=True)
class Refs:
    """Turns image tasks into NFO references, knowing which cache files are in place."""

    images_root: Path
    cached: frozenset[str]  # cache paths whose file is stored
    nfo: NfoConfig

    def of(self, task: ImageTask | None, url: str | None = None) -> str | None:
        """The reference for `task`'s file, else for `url` (else the task's own URL)."""
        rel = task.rel if task is not None else None
        original = url if url is not None else (task.url if task is not None else None)
        cached = rel is not None and rel in self.cached
        return reference(self.images_root, rel, cached, original, self.nfo.path_map)


def show_view(
    item: StreamerItem,
    refs: Refs,
    categories: Mapping[str, ImageTask | None],
    known_categories: Mapping[str, str | None],
) -> ShowView:
    """The view of one streamer folder. `categories` maps each category name seen in this
    pass to its box art task; `known_categories` is the category of each recording of the
    folder as last processed (for the season art of recordings not read in this pass)."""
    poster = refs.of(item.profile, item.profile_url)
    show = ShowInfo(
        title=item.display_name,
        plot=item.description,
        user_id=item.user_id,
        poster=poster,
        fanart=refs.of(None, item.offline_url),
        season_thumbs=season_thumbs(
            _seasons(item, known_categories),
            refs.nfo.season_poster,
            poster,
            lambda name: refs.of(categories.get(name)),
        ),
    )
    episodes = tuple(_episode_view(item, rec, refs) for rec in item.recordings if rec.finished)
    profile_rel = item.profile.rel if item.profile is not None else None
    return ShowView(folder=item.folder, info=show, poster_rel=profile_rel, episodes=episodes)


def _episode_view(item: StreamerItem, rec: RecordingItem, refs: Refs) -> EpisodeView:
    meta = rec.meta
    thumb = refs.of(rec.artwork, rec.artwork_url) or refs.of(rec.category)
    info = EpisodeInfo(
        title=meta.title,
        showtitle=item.display_name,
        season=meta.season,
        episode=meta.episode,
        aired=meta.started_at.astimezone(UTC).date() if meta.started_at else None,
        genre=meta.category_name,
        stream_id=meta.stream_id,
        thumb=thumb,
    )
    source = rec.artwork or rec.category
    return EpisodeView(files=rec.files, info=info, thumb_rel=source.rel if source else None)


def _seasons(item: StreamerItem, known: Mapping[str, str | None]) -> dict[int, list[str | None]]:
    """Season number -> categories of its recordings, for every recording of the folder
    (names parsed from the listing; categories from this pass, else as last processed)."""
    fresh = {rec.files.rel: rec.meta.category_name for rec in item.recordings}
    seasons: dict[int, list[str | None]] = {}
    for files in item.folder.recordings:
        season = parse_recording_name(files.stem, item.folder.name).season
        if season is not None:
            category = fresh.get(files.rel, known.get(files.rel))
            seasons.setdefault(season, []).append(category)
    return seasons
