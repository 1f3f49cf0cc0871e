"""The id map of a migration: `build_id_map` reads the recordings tree (info.json,
tvshow.nfo, file names), the state and optionally Helix into an `IdMap`: StreamVault's own
streamer and recording ids, user folder names and category file names mapped to Twitch user
ids, cache artwork names and slugs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from svimaged.core.errors import HelixError, MetadataError
from svimaged.core.log import kv
from svimaged.core.model import Layout, RecordingFiles, StreamerFolder
from svimaged.core.names import slugify, stream_file_id
from svimaged.images.sources import LocalAvatar
from svimaged.library.infojson import MAX_INFO_JSON_BYTES, parse_info_json
from svimaged.library.names import normalize_login, parse_recording_name
from svimaged.library.nfo_meta import read_tvshow_nfo
from svimaged.library.read import read_bounded
from svimaged.library.scan import scan_tree
from svimaged.migrate.streamvault import hashed_category_name, streamvault_filename
from svimaged.state import State
from svimaged.twitch.helix import HelixClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SvRecording:
    """A recording StreamVault knew by its own id (info.json `id`)."""

    folder: str  # streamer folder it lies in
    streamer_db_id: str | None  # info.json `streamer.id`
    login: str | None
    stream_file_id: str  # `<stream_id>` of its cache artwork name


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
    `twitch_id` -> the recording's artwork name, `category`, and the Twitch user id in the
    name of StreamVault's local avatar `streamer.profile_image` when that file exists),
    tvshow.nfo (`<uniqueid
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

    avatars = LocalAvatar(recordings)
    for streamer in scan_tree(recordings, on_error=unreadable):
        _read_folder(id_map, streamer, names, avatars)
    if state is not None:
        _read_state(id_map, state, names)
    for folder, user_id in id_map.folder_users.items():
        if login := id_map.folder_logins.get(folder):
            id_map.users.setdefault(login, user_id)
    if helix is not None and helix.has_credentials:
        _ask_helix(id_map, helix)
    _index_categories(id_map, state, names)
    return id_map


def _read_folder(
    id_map: IdMap, folder: StreamerFolder, categories: set[str], avatars: LocalAvatar
) -> None:
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
        if rec.layout is Layout.INFO_JSON and rec.sidecar is not None:
            _read_info(id_map, folder.name, rec, categories, avatars)


def _read_info(
    id_map: IdMap, folder: str, rec: RecordingFiles, categories: set[str], avatars: LocalAvatar
) -> None:
    """What StreamVault's `<stem>.info.json` of `rec` says about ids and names."""
    path = rec.sidecar
    if path is None:
        return
    try:
        data = read_bounded(path, MAX_INFO_JSON_BYTES)
        meta = parse_info_json(data, source=str(path))
    except MetadataError as exc:
        id_map.unreadable += 1
        log.debug("info.json unreadable %s", kv(path=str(path), error=str(exc)))
        return
    db_id, username = _streamer_fields(data)
    hint = meta.avatar_user_id
    if hint and avatars.exists(hint):  # StreamVault keyed the avatar by the Twitch user id
        id_map.folder_users.setdefault(folder, hint)
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
