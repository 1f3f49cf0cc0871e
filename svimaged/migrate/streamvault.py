"""What StreamVault left behind: its image files and the ids they are keyed by.

`list_sources` walks the known image layouts (see docs/migration.md) in priority order
(newest StreamVault layout first) with directory listings and `lstat` only, and returns one
`Found` per file: the shape of its name (`Shape`) and the raw id or name in it. Symbolic
links are never followed: a linked file or folder is returned as `Shape.SYMLINK` (and so
reported), a linked layout folder is not listed.

`build_id_map` reads the recordings tree (info.json, tvshow.nfo, file names), the state and
optionally Helix into an `IdMap`: StreamVault's own streamer and recording ids, user folder
names and category file names mapped to Twitch user ids, SPEC artwork names and slugs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from svimaged.core.errors import HelixError, MetadataError
from svimaged.core.log import kv
from svimaged.core.model import RecordingFiles, StreamerFolder
from svimaged.core.names import (
    ARTWORK_NAME,
    CATEGORY_NAME,
    PROFILE_NAME,
    is_safe_id,
    slugify,
    stream_file_id,
)
from svimaged.library.infojson import MAX_INFO_JSON_BYTES, parse_info_json
from svimaged.library.names import normalize_login, parse_recording_name
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.read import read_bounded
from svimaged.library.scan import scan_tree
from svimaged.state import State
from svimaged.twitch.helix import HelixClient

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
#: Files it wrote there from the offline image (banner); SPEC 3.1 has no place for them.
LANDSCAPE_FILES = ("banner.jpg", "fanart.jpg")

_STREAMER_DB = re.compile(r"streamer_(?P<id>[0-9]{1,18})")
_PROFILE_AVATAR = re.compile(r"profile_avatar_(?P<id>[0-9]{1,18})")
_STREAM_FILE = re.compile(r"stream_(?P<id>[0-9]{1,18})")
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
    `<recordings>/.images`) that already have SPEC names are not sources."""
    cache = images_root if images_root is not None else recordings / ".images"
    found: list[Found] = []
    media = recordings / ".media"
    found += _profiles(media / "profiles", cache)
    found += _categories(media / "categories", cache)
    found += _artwork(media / "artwork", cache)
    found += [_banner(entry) for entry in _files(media / "banners")]
    seed = recordings / ".images"
    found += _profiles(seed / "profiles", cache)
    found += _categories(seed / "categories", cache)
    found += _artwork(seed / "artwork", cache)
    found += _artwork(recordings / ".artwork", cache)
    if from_dir is not None:
        frontend = from_dir / "app" / "frontend" / "public" / "images" / "categories"
        found += _categories(frontend, hashed=True)
        found += _categories(from_dir / "data" / "category_images", hashed=True)
        found += _artwork(from_dir / "artwork", None)
    return found


def _files(folder: Path) -> Iterator[os.DirEntry[str] | Found]:
    """Entries of `folder` by name: regular files as entries, links as `SYMLINK`; other
    types and dot-files are skipped. A missing or linked folder yields nothing."""
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


def _image_stem(name: str) -> str | None:
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in IMAGE_SUFFIXES and stem else None


def _in_cache(entry: os.DirEntry[str], cache: Path | None, pattern: re.Pattern[str]) -> bool:
    """True for a file in the cache folder itself that already has its SPEC name."""
    return (
        cache is not None
        and Path(entry.path).parent.parent == cache
        and pattern.fullmatch(entry.name) is not None
    )


def _profiles(folder: Path, cache: Path | None) -> Iterator[Found]:
    for entry in _files(folder):
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
    folder: Path, cache: Path | None = None, *, hashed: bool = False
) -> Iterator[Found]:
    """`<name>.jpg`; with `hashed` (the frontend folders) `<safe name>_<md5[:8]>.jpg`."""
    for entry in _files(folder):
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


def _artwork(folder: Path, cache: Path | None) -> Iterator[Found]:
    """`streamer_<db id>/stream_<recording id>.jpg` (stream artwork) and `<username>/`
    folders holding poster.jpg, banner.jpg, fanart.jpg and the other copies."""
    for sub in _files(folder):
        if isinstance(sub, Found):
            yield sub
        elif sub.is_dir(follow_symlinks=False):
            yield from _artwork_folder(Path(sub.path), cache)
        else:
            yield Found(Path(sub.path), Shape.UNKNOWN)


def _artwork_folder(folder: Path, cache: Path | None) -> Iterator[Found]:
    db_id = _STREAMER_DB.fullmatch(folder.name)
    ours = cache is not None and folder.parent == cache / "artwork" and is_safe_id(folder.name)
    portraits: list[Found] = []
    for entry in _files(folder):
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
    if isinstance(entry, Found):
        return entry
    return Found(Path(entry.path), Shape.BANNER, extra=entry.name)


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


@dataclass(frozen=True, slots=True)
class SvRecording:
    """A recording StreamVault knew by its own id (info.json `id`)."""

    folder: str  # streamer folder it lies in
    streamer_db_id: str | None  # info.json `streamer.id`
    login: str | None
    stream_file_id: str  # `<stream_id>` of its SPEC artwork name


@dataclass(slots=True)
class IdMap:
    """StreamVault's ids and names mapped to Twitch ids (see `build_id_map`)."""

    db_logins: dict[str, str] = field(default_factory=dict)  # streamer db id -> login
    db_folders: dict[str, str] = field(default_factory=dict)  # streamer db id -> folder
    folder_users: dict[str, str] = field(default_factory=dict)  # folder -> Twitch user id
    folder_logins: dict[str, str] = field(default_factory=dict)  # folder -> login
    users: dict[str, str] = field(default_factory=dict)  # login -> Twitch user id
    names: dict[str, str] = field(default_factory=dict)  # name key -> folder
    recordings: dict[str, SvRecording] = field(default_factory=dict)  # recording id -> ...
    categories: dict[str, str] = field(default_factory=dict)  # category name -> slug
    category_files: dict[str, str] = field(default_factory=dict)  # file stem -> name
    unreadable: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message)

    def folder_user(self, folder: str | None) -> str | None:
        """The Twitch user id of a streamer folder (tvshow.nfo, state, or its login)."""
        if folder is None:
            return None
        login = self.folder_logins.get(folder)
        return self.folder_users.get(folder) or (self.users.get(login) if login else None)

    def user_for_db_id(self, db_id: str) -> str | None:
        """The Twitch user id of StreamVault's streamer `db_id`."""
        user = self.folder_user(self.db_folders.get(db_id))
        login = self.db_logins.get(db_id)
        return user or (self.users.get(login) if login else None)

    def user_for_name(self, name: str) -> str | None:
        """The Twitch user id of a StreamVault user folder name (sanitized user name)."""
        folder = self.names.get(name_key(name))
        login = normalize_login(name)
        return self.folder_user(folder) or (self.users.get(login) if login else None)

    def known_user_ids(self) -> set[str]:
        """Every Twitch user id the map knows."""
        return set(self.folder_users.values()) | set(self.users.values())

    def category_name(self, stem: str) -> str | None:
        """The category a StreamVault category file stem stands for, when known."""
        return self.category_files.get(stem.lower())


def name_key(name: str) -> str:
    """How StreamVault user folder names are compared: its file name rules, case-folded."""
    return streamvault_filename(name).casefold()


def build_id_map(recordings: Path, *, state: State | None, helix: HelixClient | None) -> IdMap:
    """Map StreamVault ids to Twitch ids from the tree, the state and Helix.

    Tree: every info.json (`streamer.id` and `streamer.username` -> login, `id` and
    `twitch_id` -> the recording's artwork name, `category`), tvshow.nfo (`<uniqueid
    type="twitch">` -> the folder's user id), recording file names (login). State: folder
    user ids, users by login, category slugs. Helix (with credentials): the logins still
    without a user id, 100 per request. Unreadable files are counted, Helix failures kept
    in `problems`; neither stops the build. Raises `MetadataError` when `recordings` cannot
    be listed.
    """
    id_map = IdMap()
    names: set[str] = set()

    def unreadable(path: Path) -> None:
        id_map.unreadable += 1

    for streamer in scan_tree(recordings, on_error=unreadable):
        _read_folder(id_map, streamer, names)
    if state is not None:
        _read_state(id_map, state, names)
    for folder, user_id in id_map.folder_users.items():
        if login := id_map.folder_logins.get(folder):
            id_map.users.setdefault(login, user_id)
    if helix is not None and helix.has_credentials:
        _ask_helix(id_map, helix)
    _index_categories(id_map, state, names)
    return id_map


def _read_folder(id_map: IdMap, folder: StreamerFolder, categories: set[str]) -> None:
    id_map.names.setdefault(name_key(folder.name), folder.name)
    if folder.tvshow_nfo is not None:
        try:
            show = read_tvshow_nfo(folder.tvshow_nfo)
        except MetadataError as exc:
            id_map.unreadable += 1
            log.debug("tvshow.nfo unreadable %s", kv(path=str(folder.tvshow_nfo), error=str(exc)))
        else:
            if show.user_id:
                id_map.folder_users.setdefault(folder.name, show.user_id)
            if show.display_name:
                id_map.names.setdefault(name_key(show.display_name), folder.name)
    for rec in folder.recordings:
        login = parse_recording_name(rec.stem, folder.name).login
        if login:
            id_map.folder_logins.setdefault(folder.name, login)
        if rec.info_json is not None:
            _read_info(id_map, folder.name, rec, categories)


def _read_info(id_map: IdMap, folder: str, rec: RecordingFiles, categories: set[str]) -> None:
    assert rec.info_json is not None
    try:
        data = read_bounded(rec.info_json, MAX_INFO_JSON_BYTES)
        meta = parse_info_json(data, source=str(rec.info_json))
    except MetadataError as exc:
        id_map.unreadable += 1
        log.debug("info.json unreadable %s", kv(path=str(rec.info_json), error=str(exc)))
        return
    db_id, username = _streamer_fields(data)
    login = meta.login or id_map.folder_logins.get(folder)
    if login:
        id_map.folder_logins.setdefault(folder, login)
    if username:
        id_map.names.setdefault(name_key(username), folder)
    if db_id:
        id_map.db_folders.setdefault(db_id, folder)
        if login:
            id_map.db_logins.setdefault(db_id, login)
    if meta.local_id:
        sid = stream_file_id(meta.stream_id, meta.local_id, rec.rel)
        id_map.recordings.setdefault(meta.local_id, SvRecording(folder, db_id, login, sid))
    if meta.category_name:
        categories.add(meta.category_name)


def _streamer_fields(data: bytes) -> tuple[str | None, str | None]:
    """`streamer.id` and the raw `streamer.username` of StreamVault's info.json, which
    `parse_info_json` does not keep (the id is not Twitch's; the name may be a display
    name). Called only on bytes `parse_info_json` accepted."""
    obj = json.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    streamer = obj.get("streamer") if isinstance(obj, dict) else None
    if not isinstance(streamer, dict):
        return None, None
    raw_id, raw_name = streamer.get("id"), streamer.get("username")
    db_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    if isinstance(raw_id, str) and raw_id.strip().isdigit():
        db_id = raw_id.strip()
    name = raw_name.strip() if isinstance(raw_name, str) and raw_name.strip() else None
    return db_id, name


def _read_state(id_map: IdMap, state: State, categories: set[str]) -> None:
    for folder, user_id in state.folders.users().items():
        id_map.folder_users.setdefault(folder, user_id)
    for login in {*id_map.folder_logins.values(), *id_map.db_logins.values()}:
        if login not in id_map.users and (user := state.twitch.user_by_login(login)) is not None:
            id_map.users[login] = user.id
    categories.update(state.recordings.categories_in_use())


def _ask_helix(id_map: IdMap, helix: HelixClient) -> None:
    known = set(id_map.users)
    for folder, login in id_map.folder_logins.items():
        if folder in id_map.folder_users:
            known.add(login)
    wanted = sorted({*id_map.folder_logins.values(), *id_map.db_logins.values()} - known)
    if not wanted:
        return
    try:
        found = helix.users(logins=wanted)
    except HelixError as exc:
        id_map.problems.append(("helix", f"user lookup failed: {exc}"))
        log.warning("helix lookup for migration failed %s", kv(logins=len(wanted), error=str(exc)))
        return
    for user in found:
        id_map.users.setdefault(user.login.lower(), user.id)


def _index_categories(id_map: IdMap, state: State | None, names: set[str]) -> None:
    """Slugs of the known category names (the state's when assigned) and the file stems
    StreamVault gave them, so a file can be traced back to its category."""
    for name in sorted(names):
        slug = state.twitch.category_slug(name) if state is not None else None
        slug = slug or slugify(name)
        if not slug:
            continue
        id_map.categories[name] = slug
        id_map.category_files.setdefault(streamvault_filename(name).lower(), name)
        id_map.category_files.setdefault(hashed_category_name(name), name)
