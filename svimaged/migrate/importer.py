"""`svimaged migrate`: import the images StreamVault left into the cache (contract section 8).

Three steps. `build_id_map` reads the recordings tree (info.json, tvshow.nfo, file names),
the state and optionally Helix to map StreamVault's own ids and names to Twitch ids.
`find_candidates` lists the StreamVault layouts (`svimaged.migrate.streamvault`) and turns each
file into a `Candidate` (source file -> cache path) or a skip with its reason; it reads
no file. `migrate` validates and imports the candidates with `ImageStore.import_file` (a
valid unchanged JPEG on the same file system is hard-linked, everything else converted and
written atomically) and records them in the state as cached, with the source
`migrated:<path>`.

Nothing is ever deleted or moved. A target that exists is left alone ("already cached"), so
a second run imports nothing. When two sources name the same target, the first valid one in
priority order wins (newest StreamVault layout first, then by path).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from svimaged.config import Config
from svimaged.core.clock import Clock
from svimaged.core.errors import InvalidImageError, SvimagedError, UnsafeNameError, UsageError
from svimaged.core.log import kv
from svimaged.core.model import ImageKind, Origin
from svimaged.core.names import artwork_rel, backdrop_rel, category_rel, profile_rel, slugify
from svimaged.images.store import ImageStore
from svimaged.images.tasks import ImageTask
from svimaged.migrate.idmap import IdMap, SvRecording, build_id_map, name_key
from svimaged.migrate.streamvault import Found, Shape, list_sources
from svimaged.pipeline.resources import helix_client
from svimaged.state import State
from svimaged.twitch.helix import HelixClient

__all__ = [
    "Candidate",
    "IdMap",
    "MigrationReport",
    "SvRecording",
    "build_id_map",
    "find_candidates",
    "migrate",
    "name_key",
    "run_migrate",
]

log = logging.getLogger(__name__)

#: Skip reasons in the order the summary line lists them (others follow, sorted).
REASON_ORDER = (
    "already cached",
    "duplicate",
    "unknown id",
    "invalid image",
    "symlink not followed",
    "not the offline image for sure",
    "no slug",
    "unrecognised name",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A source file and the cache path (`svimaged.core.names.*_rel`) it becomes. `key` is the
    state key (user id, category name, `<user_id>/<stream_id>`); empty: derived from `rel`."""

    source: Path
    kind: ImageKind
    rel: str
    key: str = ""

    @property
    def state_key(self) -> str:
        """The key recorded in the state, as the pipeline uses it for this kind."""
        if self.key:
            return self.key
        name = self.rel.rsplit("/", 1)[-1].removesuffix(".jpg")
        if self.kind is ImageKind.PROFILE:
            return name.removeprefix("profile_avatar_")
        if self.kind is ImageKind.ARTWORK:
            return f"{self.rel.split('/')[1]}/{name.removeprefix('stream_')}"
        return name


@dataclass(slots=True)
class MigrationReport:
    """What a migration did (or, `dry_run`, would do). Sources are paths as text; a skip
    reason is `<group>` or `<group>: <detail>` (the summary counts by group)."""

    imported: list[tuple[str, str]]  # (source, rel)
    skipped: list[tuple[str, str]]  # (source, reason)
    errors: list[tuple[str, str]]  # (source, message)
    dry_run: bool = False
    unreadable_metadata: int = 0  # info.json / tvshow.nfo files that could not be read

    def lines(self) -> list[str]:
        """One line per file, then the summary line."""
        verb = "would import" if self.dry_run else "imported"
        out = [f"{verb} {source} -> {rel}" for source, rel in self.imported]
        out += [f"skipped {source}: {reason}" for source, reason in self.skipped]
        out += [f"error {source}: {message}" for source, message in self.errors]
        if self.unreadable_metadata:
            out.append(f"metadata files unreadable: {self.unreadable_metadata}")
        out.append(self.summary())
        return out

    def summary(self) -> str:
        """`imported N, skipped N (already cached N, unknown id N, ...), errors N`."""
        groups = Counter(reason.split(":", 1)[0] for _source, reason in self.skipped)
        order = [g for g in REASON_ORDER if g in groups] + sorted(set(groups) - set(REASON_ORDER))
        detail = ", ".join(f"{group} {groups[group]}" for group in order)
        verb = "would import" if self.dry_run else "imported"
        skipped = f"skipped {len(self.skipped)}" + (f" ({detail})" if detail else "")
        return f"{verb} {len(self.imported)}, {skipped}, errors {len(self.errors)}"


# -- mapping files to candidates ----------------------------------------------------------


def find_candidates(
    recordings: Path,
    *,
    from_dir: Path | None,
    id_map: IdMap,
    images_root: Path | None = None,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """List the StreamVault layouts and map each file: candidates in priority order (one
    target may have several; the caller takes the first valid one) and `(source, reason)`
    for files that cannot be imported. Reads no file. A file that already is its own
    target in `images_root` (default `<recordings>/.images`) is neither."""
    cache = images_root if images_root is not None else recordings / ".images"
    known = id_map.known_user_ids()
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    for found in list_sources(recordings, from_dir=from_dir, images_root=cache):
        try:
            result = _map(found, id_map, known)
        except UnsafeNameError as exc:
            result = f"unrecognised name: {exc}"
        if isinstance(result, str):
            skipped.append((str(found.source), result))
        elif result.source != cache / result.rel:
            candidates.append(result)
    return candidates, skipped


def _map(found: Found, id_map: IdMap, known: set[str]) -> Candidate | str:
    """The candidate for one file, or the reason it has none."""
    if found.shape is Shape.SYMLINK:
        return "symlink not followed"
    if found.shape is Shape.BANNER:
        return _backdrop(found, id_map)
    if found.shape in (Shape.CATEGORY_NAME, Shape.CATEGORY_HASHED):
        return _category(found, id_map)
    if found.shape is Shape.STREAM_ARTWORK:
        return _stream_artwork(found, id_map)
    if found.shape is Shape.PORTRAIT:
        user = id_map.user_for_name(found.ident)
        if user is None:
            return f"unknown id: cannot map StreamVault user folder {found.ident!r} to a user"
        return _profile(found.source, user)
    if found.shape is Shape.PROFILE_ID and found.ident in known:
        return _profile(found.source, found.ident)
    if found.shape in (Shape.PROFILE_ID, Shape.PROFILE_DB_ID):
        user = id_map.user_for_db_id(found.ident)
        if user is None:
            return _unknown_db_id(found.ident, id_map)
        return _profile(found.source, user)
    return "unrecognised name"


def _backdrop(found: Found, id_map: IdMap) -> Candidate | str:
    """`banners/banner_<db id>.jpg` is the channel's offline image: the show's backdrop.
    The `banner.jpg`/`fanart.jpg` copies in a user folder may hold the avatar instead
    (StreamVault's fallback when the channel has no offline image): not imported."""
    if not found.ident.isdigit():
        return "not the offline image for sure" + (f": {found.extra}" if found.extra else "")
    user = id_map.user_for_db_id(found.ident)
    if user is None:
        return _unknown_db_id(found.ident, id_map)
    return Candidate(found.source, ImageKind.BACKDROP, backdrop_rel(user), user)


def _profile(source: Path, user_id: str) -> Candidate:
    return Candidate(source, ImageKind.PROFILE, profile_rel(user_id), user_id)


def _unknown_db_id(db_id: str, id_map: IdMap) -> str:
    reason = f"unknown id: cannot map StreamVault id {db_id} to a Twitch user"
    login = id_map.db_logins.get(db_id)
    return f"{reason} (login {login} has no known Twitch id)" if login else reason


def _stream_artwork(found: Found, id_map: IdMap) -> Candidate | str:
    rec = id_map.recordings.get(found.extra)
    if rec is None:
        return f"unknown id: no info.json has StreamVault recording id {found.extra}"
    if rec.streamer_db_id is not None and rec.streamer_db_id != found.ident:
        return (
            f"unknown id: StreamVault recording {found.extra} belongs to streamer "
            f"{rec.streamer_db_id}, not {found.ident}"
        )
    user = id_map.folder_user(rec.folder) or (id_map.users.get(rec.login) if rec.login else None)
    if user is None:
        return _unknown_db_id(found.ident, id_map)
    rel = artwork_rel(user, rec.stream_file_id)
    return Candidate(found.source, ImageKind.ARTWORK, rel, f"{user}/{rec.stream_file_id}")


def _category(found: Found, id_map: IdMap) -> Candidate | str:
    stem = found.source.name.rsplit(".", 1)[0]
    name = id_map.category_name(stem)
    slug = id_map.categories.get(name) if name is not None else slugify(found.ident)
    if not slug:
        return f"no slug: {stem!r} folds to nothing and names no known category"
    return Candidate(found.source, ImageKind.CATEGORY, category_rel(slug), name or slug)


# -- importing --------------------------------------------------------------------------


def migrate(
    recordings: Path,
    store: ImageStore,
    state: State | None,
    *,
    from_dir: Path | None = None,
    dry_run: bool = False,
    helix: HelixClient | None = None,
    clock: Clock,
) -> MigrationReport:
    """Import StreamVault's images into `store` (see the module docstring); `dry_run`
    validates and reports the same without writing a file or the state. Per-file problems
    are reported, never raised; `MetadataError` when `recordings` cannot be listed."""
    id_map = build_id_map(recordings, state=state, helix=helix)
    candidates, skipped = find_candidates(
        recordings, from_dir=from_dir, id_map=id_map, images_root=store.root
    )
    report = MigrationReport(
        imported=[],
        skipped=skipped,
        errors=list(id_map.problems),
        dry_run=dry_run,
        unreadable_metadata=id_map.unreadable,
    )
    winners: dict[str, str] = {}  # rel -> the source imported there
    failed: dict[str, str] = {}  # rel -> the source whose import failed with an error
    for cand in candidates:
        source = str(cand.source)
        if cand.rel in winners:
            report.skipped.append((source, f"duplicate: {cand.rel} comes from {winners[cand.rel]}"))
            continue
        if cand.rel in failed:
            report.skipped.append((source, f"duplicate: {cand.rel} failed for {failed[cand.rel]}"))
            continue
        root = recordings if cand.source.is_relative_to(recordings) else from_dir
        outcome = _import(cand, store, state, root or recordings, dry_run=dry_run, clock=clock)
        if outcome is None:
            winners[cand.rel] = source
            report.imported.append((source, cand.rel))
        elif outcome.startswith("error: "):
            failed[cand.rel] = source
            report.errors.append((source, outcome.removeprefix("error: ")))
        else:
            report.skipped.append((source, outcome))
    if state is not None and not dry_run:
        _invalidate(state, candidates, winners)
    log.info("migration done %s", report.summary())
    return report


def _import(
    cand: Candidate,
    store: ImageStore,
    state: State | None,
    root: Path,
    *,
    dry_run: bool,
    clock: Clock,
) -> str | None:
    """Import one candidate; None when done, else the skip reason or `error: <message>`."""
    try:
        if store.exists(cand.rel):
            return "already cached"
        if dry_run:
            store.import_digest(cand.source, source_root=root)  # validates like the import
            return None
        info = os.lstat(cand.source)
        stored = store.import_file(cand.rel, cand.source, source_root=root)
        log.info("image migrated %s", kv(rel=cand.rel, source=str(cand.source)))
        if state is not None:
            state.images.record_success(
                cand.rel,
                cand.kind,
                cand.state_key,
                origin=Origin.MIGRATED,
                source=str(cand.source),
                etag=ImageTask.stamp(info.st_size, info.st_mtime_ns),
                last_modified=None,
                sha256=stored.sha256,
                size=stored.size,
                at=clock.time(),
            )
    except InvalidImageError as exc:
        return f"invalid image: {exc}"
    except UnsafeNameError as exc:
        return f"symlink not followed: {exc}"
    except OSError as exc:
        return f"error: cannot read {cand.source}: {exc.strerror or exc}"
    except SvimagedError as exc:
        return f"error: {exc}"
    return None


def _invalidate(state: State, candidates: list[Candidate], winners: dict[str, str]) -> None:
    """Mark the recordings using imported images as changed, so the next pass points their
    NFOs at the cached files."""
    imported = [cand for cand in candidates if winners.get(cand.rel) == str(cand.source)]
    state.recordings.invalidate(
        user_ids=[
            c.state_key.split("/", 1)[0] for c in imported if c.kind is not ImageKind.CATEGORY
        ],
        categories=[c.state_key for c in imported if c.kind is ImageKind.CATEGORY],
    )


def run_migrate(
    config: Config, clock: Clock, *, from_dir: Path | None = None, dry_run: bool = False
) -> MigrationReport:
    """`svimaged migrate [--from DIR] [--dry-run]`: open the image store, the state (a dry
    run uses it only when it exists already) and, with credentials, Helix; migrate; close.
    `UsageError` when `from_dir` is not a folder."""
    if from_dir is not None and not from_dir.is_dir():
        raise UsageError(f"--from: not a folder: {from_dir}")
    store = ImageStore(config.images_root, dir_mode=config.images.mode)
    state = None if dry_run and not config.state_db.exists() else State.open(config.state_db)
    helix = helix_client(config, clock)
    try:
        return migrate(
            config.recordings,
            store,
            state,
            from_dir=from_dir,
            dry_run=dry_run,
            helix=helix,
            clock=clock,
        )
    finally:
        if helix is not None:
            helix.close()
        if state is not None:
            state.close()
