"""What an NFO references: the image's absolute path as the media server sees it (the first
matching `nfo.path_map` prefix rewritten), the original https URL until the file is cached,
and the season art of `tvshow.nfo`. Pure: no I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from svimaged.nfo.model import SeasonThumb


def map_path(path: str, path_map: Sequence[tuple[str, str]]) -> str:
    """Rewrite an absolute path with the first `(from, to)` prefix that matches whole
    components (`/recordings` matches `/recordings/x`, not `/recordings2/x`). A `to` that is
    a URL prefix (`smb://nas/tv`, as Kodi clients see a share) gets the rest of the path
    appended with `/`, as it is (Kodi reads such paths unencoded)."""
    pure = PurePosixPath(path)
    for src, dst in path_map:
        src_path = PurePosixPath(src)
        if pure == src_path or src_path in pure.parents:
            rest = pure.relative_to(src_path)
            if "://" in dst:
                return dst.rstrip("/") + ("" if rest == PurePosixPath(".") else f"/{rest}")
            return str(PurePosixPath(dst) / rest)
    return path


def reference(
    images_root: Path,
    rel: str | None,
    cached: bool,
    original_url: str | None,
    path_map: Sequence[tuple[str, str]],
) -> str | None:
    """What an NFO points at: the cached file's absolute path as the media server sees it
    (first matching `path_map` prefix rewritten), else the original https URL, else None.
    Relative paths and `file://` URLs are never produced."""
    if rel is not None and cached:
        return map_path(str(images_root / rel), path_map)
    if original_url is not None and original_url.lower().startswith("https://"):
        return original_url
    return None


def season_thumbs(
    seasons: Mapping[int, Sequence[str | None]],
    mode: str,
    poster: str | None,
    category_ref: Callable[[str], str | None],
) -> tuple[SeasonThumb, ...]:
    """Season art for tvshow.nfo: one poster per season, `profile` (the show poster),
    `category` (the box art of the season's most used category, else the show poster) or
    `none`. `seasons` maps each season number to its recordings' categories."""
    if mode == "none":
        return ()
    thumbs: list[SeasonThumb] = []
    for season in sorted(seasons):
        ref = poster
        if mode == "category":
            used = Counter(name for name in seasons[season] if name)
            for name, _count in used.most_common():
                ref = category_ref(name) or ref
                break
        if ref is not None:
            thumbs.append(SeasonThumb(season=season, ref=ref))
    return tuple(thumbs)
