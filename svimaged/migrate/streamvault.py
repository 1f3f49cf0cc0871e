"""What StreamVault left behind: its image files and the ids they are keyed by.

`list_sources` walks the known image layouts (see docs/migration.md) in priority order
(newest StreamVault layout first) with directory listings and `lstat` only, and returns one
`Found` per file: the shape of its name (`Shape`) and the raw id or name in it. Symbolic
links are never followed: a linked file or folder is returned as `Shape.SYMLINK` (and so
reported), a linked layout folder is not listed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from svimaged.core.names import (
    ARTWORK_NAME,
    CATEGORY_NAME,
    PROFILE_NAME,
    is_safe_id,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})

#: Files StreamVault's artwork service wrote into each per-streamer artwork folder from the
#: profile image, best first (they are copies of one picture).
PORTRAIT_FILES = (
    "poster.jpg",
    "folder.jpg",
    "show.jpg",
    "season.jpg",
    "season-poster.jpg",
    "logo.jpg",
    "clearlogo.jpg",
)
#: Files it wrote there from the offline image (banner); contract section 3.1 has no place for them.
LANDSCAPE_FILES = ("banner.jpg", "fanart.jpg")

_STREAMER_DB = re.compile(r"streamer_(?P<id>[0-9]{1,18})")
_PROFILE_AVATAR = re.compile(r"profile_avatar_(?P<id>[0-9]{1,18})")
_STREAM_FILE = re.compile(r"stream_(?P<id>[0-9]{1,18})")
_BANNER_DB = re.compile(r"banner_(?P<id>[0-9]{1,18})")
_HASHED_CATEGORY = re.compile(r"(?P<name>.*)_(?P<hash>[0-9a-f]{8})")


class Shape(StrEnum):
    """What a file name says."""

    PROFILE_DB_ID = "profile_db_id"  # streamer_<db id>.jpg
    PROFILE_ID = "profile_id"  # profile_avatar_<Twitch id or, 2025-07-23..26, db id>.jpg
    CATEGORY_NAME = "category_name"  # <sanitized category name>.jpg
    CATEGORY_HASHED = "category_hashed"  # <safe name>_<md5(name)[:8]>.jpg
    STREAM_ARTWORK = "stream_artwork"  # streamer_<db id>/stream_<recording id>.jpg
    PORTRAIT = "portrait"  # <username>/poster.jpg and the other copies of the profile image
    BANNER = "banner"  # banners/banner_<db id>.jpg, <username>/banner.jpg, fanart.jpg
    UNKNOWN = "unknown"  # a file StreamVault did not name like this
    SYMLINK = "symlink"  # never followed


@dataclass(frozen=True, slots=True)
class Found:
    """One file in a StreamVault layout. `ident` is the id or name from the file name (for
    `STREAM_ARTWORK` the streamer db id, `PORTRAIT` the folder name); `extra` is the
    recording id (`STREAM_ARTWORK`), the md5 prefix (`CATEGORY_HASHED`) or the file name."""

    source: Path
    shape: Shape
    ident: str = ""
    extra: str = ""


def list_sources(
    recordings: Path, *, from_dir: Path | None, images_root: Path | None = None
) -> list[Found]:
    """Every file in the StreamVault layouts, in priority order: `.media` (StreamVault
    today), the seed's `.images`, `.artwork`, then the `--from` install (category images of
    `app/frontend/public/images/categories` and `data/category_images`, and `artwork/<user>`).
    Within a layout, by path. Files in `images_root` (the cache itself, default
    `<recordings>/.images`) that already have cache names are not sources."""
    cache = images_root if images_root is not None else recordings / ".images"
    found: list[Found] = []
    media = recordings / ".media"
    found += _profiles(media / "profiles", recordings, cache)
    found += _categories(media / "categories", recordings, cache)
    found += _artwork(media / "artwork", recordings, cache)
    found += [_banner(entry) for entry in _files(media / "banners", recordings)]
    seed = recordings / ".images"
    found += _profiles(seed / "profiles", recordings, cache)
    found += _categories(seed / "categories", recordings, cache)
    found += _artwork(seed / "artwork", recordings, cache)
    found += _artwork(recordings / ".artwork", recordings, cache)
    if from_dir is not None:
        frontend = from_dir / "app" / "frontend" / "public" / "images" / "categories"
        found += _categories(frontend, from_dir, hashed=True)
        found += _categories(from_dir / "data" / "category_images", from_dir, hashed=True)
        found += _artwork(from_dir / "artwork", from_dir, None)
    return found


def _files(folder: Path, base: Path) -> Iterator[os.DirEntry[str] | Found]:
    """Entries of `folder` (below `base`) by name: regular files as entries, links as
    `SYMLINK`; other types and dot-files are skipped. A missing folder yields nothing; a
    folder on the way from `base` that is a link (`.media` linked elsewhere) yields one
    `SYMLINK` for that folder and nothing below it."""
    linked = _linked_on_the_way(base, folder)
    if linked is not None:
        yield Found(linked, Shape.SYMLINK)
        return
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("migration source not listed %s error=%s", folder, exc.strerror or exc)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            yield Found(Path(entry.path), Shape.SYMLINK)
        elif entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
            yield entry


def _linked_on_the_way(base: Path, folder: Path) -> Path | None:
    """The first folder from `base` down to `folder` that is a symbolic link, else None."""
    current = base
    for part in folder.relative_to(base).parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return current
        except OSError:
            return None
    return None


def _image_stem(name: str) -> str | None:
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in IMAGE_SUFFIXES and stem else None


def _in_cache(entry: os.DirEntry[str], cache: Path | None, pattern: re.Pattern[str]) -> bool:
    """True for a file in the cache folder itself that already has its cache name."""
    return (
        cache is not None
        and Path(entry.path).parent.parent == cache
        and pattern.fullmatch(entry.name) is not None
    )


def _profiles(folder: Path, base: Path, cache: Path | None) -> Iterator[Found]:
    for entry in _files(folder, base):
        if isinstance(entry, Found):
            yield entry
            continue
        if not entry.is_file(follow_symlinks=False) or _in_cache(entry, cache, PROFILE_NAME):
            continue
        stem = _image_stem(entry.name) or ""
        if match := _PROFILE_AVATAR.fullmatch(stem):
            yield Found(Path(entry.path), Shape.PROFILE_ID, match["id"])
        elif match := _STREAMER_DB.fullmatch(stem):
            yield Found(Path(entry.path), Shape.PROFILE_DB_ID, match["id"])
        else:
            yield Found(Path(entry.path), Shape.UNKNOWN)


def _categories(
    folder: Path, base: Path, cache: Path | None = None, *, hashed: bool = False
) -> Iterator[Found]:
    """`<name>.jpg`; with `hashed` (the frontend folders) `<safe name>_<md5[:8]>.jpg`."""
    for entry in _files(folder, base):
        if isinstance(entry, Found):
            yield entry
            continue
        if not entry.is_file(follow_symlinks=False) or _in_cache(entry, cache, CATEGORY_NAME):
            continue
        stem = _image_stem(entry.name)
        if stem is None:
            yield Found(Path(entry.path), Shape.UNKNOWN)
        elif hashed and (match := _HASHED_CATEGORY.fullmatch(stem)):
            yield Found(Path(entry.path), Shape.CATEGORY_HASHED, match["name"], match["hash"])
        else:
            yield Found(Path(entry.path), Shape.CATEGORY_NAME, stem)


def _artwork(folder: Path, base: Path, cache: Path | None) -> Iterator[Found]:
    """`streamer_<db id>/stream_<recording id>.jpg` (stream artwork) and `<username>/`
    folders holding poster.jpg, banner.jpg, fanart.jpg and the other copies."""
    for sub in _files(folder, base):
        if isinstance(sub, Found):
            yield sub
        elif sub.is_dir(follow_symlinks=False):
            yield from _artwork_folder(Path(sub.path), base, cache)
        else:
            yield Found(Path(sub.path), Shape.UNKNOWN)


def _artwork_folder(folder: Path, base: Path, cache: Path | None) -> Iterator[Found]:
    db_id = _STREAMER_DB.fullmatch(folder.name)
    ours = cache is not None and folder.parent == cache / "artwork" and is_safe_id(folder.name)
    portraits: list[Found] = []
    for entry in _files(folder, base):
        if isinstance(entry, Found):
            yield entry
            continue
        if not entry.is_file(follow_symlinks=False):
            continue  # StreamVault's `metadata/` sub-folders hold no images
        path, name = Path(entry.path), entry.name
        stream = _STREAM_FILE.fullmatch(_image_stem(name) or "")
        if db_id and stream:
            yield Found(path, Shape.STREAM_ARTWORK, db_id["id"], stream["id"])
        elif name.lower() in PORTRAIT_FILES:
            portraits.append(Found(path, Shape.PORTRAIT, folder.name, name.lower()))
        elif name.lower() in LANDSCAPE_FILES:
            yield Found(path, Shape.BANNER, folder.name, name.lower())
        elif not (ours and not db_id and ARTWORK_NAME.fullmatch(name)):
            yield Found(path, Shape.UNKNOWN)
    yield from sorted(portraits, key=lambda f: PORTRAIT_FILES.index(f.extra))


def _banner(entry: os.DirEntry[str] | Found) -> Found:
    """`banners/banner_<db id>.jpg`: the channel's offline image (`ident` is the db id)."""
    if isinstance(entry, Found):
        return entry
    match = _BANNER_DB.fullmatch(_image_stem(entry.name) or "")
    return Found(Path(entry.path), Shape.BANNER, match["id"] if match else "", entry.name)


def streamvault_filename(name: str) -> str:
    """The folder/file name StreamVault made of a user or category name (its
    `sanitize_filename` rules, compared case-insensitively by callers): `<>:"/\\|?*` to `_`,
    control characters dropped, runs of `_` and white space to one `_`, dots, spaces and
    `_` stripped at both ends."""
    text = re.sub(r'[<>:"/\\|?*]', "_", name)
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", text)
    text = re.sub(r"[_\s]+", "_", text)
    return text.strip("._ ")


def hashed_category_name(name: str) -> str:
    """The stem the first StreamVault category image service (July 2025) gave `name` in
    `app/frontend/public/images/categories`: alphanumerics, spaces, `-` and `_` kept, spaces
    to `_`, lowercased, then `_` and the first 8 hex digits of md5(name)."""
    kept = "".join(c for c in name if c.isalnum() or c in " -_").rstrip()
    digest = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
    return f"{kept.replace(' ', '_').lower()}_{digest}"


# -- the id map ---------------------------------------------------------------------------
