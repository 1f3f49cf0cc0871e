"""What the NFO writer is told: plain, frozen input data for `render` and `merge`.

Every field that is unknown is `None` (or empty for `season_thumbs`) and is then not written.
Image references are final strings: an absolute path as the media server sees it (already
rewritten by `nfo.path_map`) or the original https URL. The NFO code never builds paths.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeasonThumb:
    """Season art for `tvshow.nfo`: `<thumb aspect="poster" type="season" season="N">ref`."""

    season: int
    ref: str


@dataclass(frozen=True, slots=True)
class ShowInfo:
    """What `tvshow.nfo` should say about one streamer."""

    title: str | None  # display name
    plot: str | None  # Twitch description; written only if absent
    user_id: str | None  # <uniqueid type="twitch" default="true">
    poster: str | None  # profile image reference -> <thumb aspect="poster">
    fanart: str | None  # offline image reference -> <fanart><thumb>...</thumb></fanart>
    season_thumbs: tuple[SeasonThumb, ...] = ()


@dataclass(frozen=True, slots=True)
class EpisodeInfo:
    """What `<stem>.nfo` should say about one finished recording."""

    title: str | None
    showtitle: str | None
    season: int | None  # from SYYYYMMENN, e.g. 202611
    episode: int | None  # from SYYYYMMENN, e.g. 3
    aired: datetime.date | None  # UTC date
    genre: str | None  # category name
    stream_id: str | None  # <uniqueid type="twitch" default="true">
    thumb: str | None  # stream artwork, else category image reference
    #: season and episode were given by svimaged (by month and order): they replace the
    #: numbers svimaged wrote before instead of being added only when missing
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class SeasonInfo:
    """What `season.nfo` in a season folder should say (read by Jellyfin and Emby)."""

    season: int  # <seasonnumber>, e.g. 202611
    title: str | None  # e.g. "Season 2026-11"; written only when missing
    thumb: str | None  # the season poster reference
