"""Reads the recordings tree (contract section 2): which streamer folders and recordings exist.

Only directory listings and `lstat` data; no file is opened. Rules:

- A streamer folder is a first-level directory below `recordings` whose name does not start
  with a dot (so `.images` and StreamVault's `.media` are never input).
- Symbolic links are never followed, neither for streamer folders nor below them. A link to
  a folder inside `recordings` would scan the same recordings twice under two names (or
  scan a dot-folder, which is never input); a link to a folder outside would make the daemon
  write NFOs outside the tree it was given. Skipping links also rules out loops. Put other
  disks in place with a (bind) mount instead. Symlinked files are skipped too, since their
  `lstat` data describes the link, not the video.
- Recordings are regular files with a suffix from `model.VIDEO_SUFFIXES` (any case) at any
  depth; dot-files and dot-folders are skipped. Companions are found in the same listing,
  and which archiver's layout a recording follows, or that a video file is not an episode
  at all (a rendered chat, a side video), is told from the names there (`layouts`).
- A folder that cannot be listed is logged at warning with its path, reported to the
  optional `on_error` callback and skipped. A caller that deletes things based on the scan
  (cleanup) must treat a scan with errors as incomplete.
- A name that is not valid UTF-8 (a folder or file written by a tool in another encoding)
  is skipped, with everything below it, and reported to the optional `on_bad_name` callback
  (the pass counts and logs it once); everything else is scanned as usual.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from svimaged.core.errors import MetadataError
from svimaged.core.model import VIDEO_SUFFIXES, RecordingFiles, StreamerFolder
from svimaged.core.names import is_text_name, shown_name
from svimaged.library.layouts import GANYMEDE_AVATAR, recognize_split, skip_folder

logger = logging.getLogger(__name__)

TVSHOW_NFO = "tvshow.nfo"
#: Companion file suffixes that make up a recording's signature after its sidecar, in this
#: order; the archiver's own picture comes last.
COMPANION_SUFFIXES = (".nfo", "-thumb.jpg", "-thumb.png")

#: Called with the path of every folder a scan had to skip because it could not be listed.
OnError = Callable[[Path], None]
#: Called with the path of every entry skipped because its name is not valid UTF-8.
OnBadName = Callable[[Path], None]


@dataclass(frozen=True, slots=True)
class _Listing:
    """One folder's entries: sub-folders to descend into, regular files by name, and the
    entries skipped for a name that is not valid UTF-8. `fd` is the folder, open while its
    entries are stat-ed (relative to it: no walk of the whole path per file); `close()`
    it once they are."""

    folders: list[str]
    files: dict[str, os.DirEntry[str]]
    bad: list[Path]
    fd: int = -1

    def close(self) -> None:
        """Close the folder's descriptor (the entries cannot be stat-ed after this)."""
        if self.fd >= 0:
            os.close(self.fd)


def list_streamer_folders(recordings: Path, *, on_bad_name: OnBadName | None = None) -> list[str]:
    """Names of the streamer folders in `recordings`, sorted; names that are not valid
    UTF-8 go to `on_bad_name` instead.

    Raises `MetadataError` naming the path when `recordings` is missing, not a directory or
    cannot be listed.
    """
    try:
        with os.scandir(recordings) as entries:
            listing = _split(list(entries), recordings)
    except OSError as exc:
        raise MetadataError(
            f"cannot list recordings folder {str(recordings)!r}: {exc.strerror or exc}"
        ) from exc
    if on_bad_name is not None:
        for path in listing.bad:
            on_bad_name(path)
    return sorted(listing.folders)


def scan_streamer(
    recordings: Path, name: str, *, on_error: OnError | None = None
) -> StreamerFolder:
    """Every recording at any depth below `recordings/name`, sorted by `rel`.

    Raises `MetadataError` when `name` is not a plain first-level folder name or the
    streamer folder itself is not a directory or cannot be listed. Unreadable sub-folders
    are logged, passed to `on_error` and skipped.
    """
    if not name or "/" in name or "\0" in name or name.startswith(".") or not is_text_name(name):
        raise MetadataError(f"not a streamer folder name: {shown_name(name)!r}")
    folder = recordings / name
    try:
        info = os.lstat(folder)
        mode = info.st_mode
        if not stat.S_ISDIR(mode):
            raise MetadataError(f"not a directory (links are not followed): {str(folder)!r}")
        top = _list(folder)
    except OSError as exc:
        raise MetadataError(
            f"cannot list streamer folder {str(folder)!r}: {exc.strerror or exc}"
        ) from exc
    tvshow = top.files.get(TVSHOW_NFO)
    tvshow_sig = _entry_sig(tvshow)
    dirs = {name: info.st_mtime_ns}
    bad: list[Path] = []
    found = _walk(folder, name, top, on_error, dirs, bad)  # closes `top`
    return StreamerFolder(
        name=name,
        path=folder,
        tvshow_nfo=folder / TVSHOW_NFO if tvshow is not None else None,
        recordings=tuple(sorted(found, key=lambda rec: rec.rel)),
        tvshow_sig=tvshow_sig,
        dirs=tuple(sorted(dirs.items())),
        avatar=folder / GANYMEDE_AVATAR if GANYMEDE_AVATAR in top.files else None,
        bad_names=tuple(sorted(bad)),
    )


def file_sig(path: Path | str) -> str:
    """`<mtime_ns>.<size>` of a regular file (not following links), `-` when there is none.
    The same string the scan computes, so a file the daemon just wrote can be re-signed."""
    try:
        info = os.lstat(path)
    except OSError:
        return "-"
    return f"{info.st_mtime_ns}.{info.st_size}" if stat.S_ISREG(info.st_mode) else "-"


def companion_sig(rec: RecordingFiles) -> str:
    """The companions part of `rec`'s signature read again from the file system (the same
    files the scan signed, so a file the daemon just wrote can be re-signed)."""
    folder, stem = os.path.dirname(rec.video), rec.stem  # str joins: no Path per file
    sigs = [
        file_sig(rec.sidecar) if rec.sidecar is not None else "-",
        *(file_sig(os.path.join(folder, stem + suffix)) for suffix in COMPANION_SUFFIXES),
        file_sig(rec.picture) if rec.picture is not None else "-",
    ]
    return ",".join([rec.layout.value, *sigs])


def resign(rec: RecordingFiles, signed: Mapping[str, str]) -> str:
    """`companion_sig` without reading what did not change: the companion files in
    `signed` (path: `file_sig` just after the daemon wrote them) with those signatures, the
    others as the scan signed them (one changed since then differs at the next scan, which
    is what should happen). Read again in full for a recording without a scan signature."""
    parts = rec.companions.split(",")
    if len(parts) != len(COMPANION_SUFFIXES) + 3:  # layout, sidecar, companions, picture
        return companion_sig(rec)
    folder = os.path.dirname(rec.video)
    for index, suffix in enumerate(COMPANION_SUFFIXES, start=2):
        parts[index] = signed.get(_join(folder, rec.stem + suffix), parts[index])
    return ",".join(parts)


def _entry_sig(entry: os.DirEntry[str] | None) -> str:
    """`file_sig` of a listed entry, `-` for None."""
    if entry is None:
        return "-"
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return "-"
    return f"{info.st_mtime_ns}.{info.st_size}"


def scan_tree(
    recordings: Path,
    *,
    on_error: OnError | None = None,
    on_bad_name: OnBadName | None = None,
) -> Iterator[StreamerFolder]:
    """Every streamer folder of `recordings`, in name order.

    The root is listed at once, so a missing or unreadable `recordings` raises
    `MetadataError` from this call. A streamer folder that cannot be scanned is logged,
    passed to `on_error` and not yielded; one whose name is not valid UTF-8 is passed to
    `on_bad_name` (those inside a streamer folder are in its `bad_names`).
    """
    names = list_streamer_folders(recordings, on_bad_name=on_bad_name)
    return _scan_all(recordings, names, on_error)


def _scan_all(
    recordings: Path, names: list[str], on_error: OnError | None
) -> Iterator[StreamerFolder]:
    for name in names:
        try:
            yield scan_streamer(recordings, name, on_error=on_error)
        except MetadataError as exc:
            logger.warning("streamer folder skipped path=%r error=%s", str(recordings / name), exc)
            if on_error is not None:
                on_error(recordings / name)


def _walk(
    folder: Path,
    name: str,
    top: _Listing,
    on_error: OnError | None,
    dirs: dict[str, int],
    bad: list[Path],
) -> list[RecordingFiles]:
    """Recordings below `folder`; `dirs` gets each listed folder's mtime (relative path),
    `bad` each entry skipped for its name. Closes `top` and every listing it makes."""
    found: list[RecordingFiles] = []
    pending: list[tuple[Path, tuple[str, ...], _Listing | None]] = [(folder, (name,), top)]
    while pending:
        path, parts, listing = pending.pop()
        if listing is None:
            try:
                listing = _list(path, dirs, "/".join(parts))
            except OSError as exc:
                logger.warning(
                    "unreadable folder skipped path=%r error=%s", str(path), exc.strerror or exc
                )
                if on_error is not None:
                    on_error(path)
                continue
        try:
            found.extend(_recordings_in(listing, parts, name, path))
        finally:
            listing.close()
        bad.extend(listing.bad)
        pending.extend(
            (path / sub, (*parts, sub), None)
            for sub in listing.folders
            if not skip_folder(sub, listing.files)
        )
    return found


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _list(path: Path, dirs: dict[str, int] | None = None, rel: str = "") -> _Listing:
    """The listing of the folder `path` (not followed if it is a link), open for its
    entries to be stat-ed; with `dirs`, its mtime goes there under `rel`, taken before
    the listing."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        if dirs is not None:
            dirs[rel] = os.fstat(fd).st_mtime_ns
        with os.scandir(fd) as entries:
            listing = _split(list(entries), path)
    except BaseException:
        os.close(fd)
        raise
    return _Listing(listing.folders, listing.files, listing.bad, fd)


def _split(entries: list[os.DirEntry[str]], path: Path) -> _Listing:
    """Sort a listing into real sub-folders and regular files, skipping dot names and links."""
    folders: list[str] = []
    files: dict[str, os.DirEntry[str]] = {}
    bad: list[Path] = []
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        if not is_text_name(name):
            bad.append(path / name)
            continue
        try:
            if entry.is_file(follow_symlinks=False):  # most entries: first
                files[name] = entry
            elif entry.is_dir(follow_symlinks=False):
                folders.append(name)
            elif entry.is_symlink():
                logger.debug("symlink not followed path=%r", str(path / name))
        except OSError as exc:  # vanished or unreadable between listing and check
            logger.debug("entry skipped path=%r error=%s", str(path / name), exc)
    return _Listing(folders=folders, files=files, bad=bad)


def _recordings_in(
    listing: _Listing, parts: tuple[str, ...], streamer: str, path: Path
) -> Iterator[RecordingFiles]:
    """The recordings of one listed folder `path`. Their file paths are string joins: a
    `Path` per file would cost more than the rest of the scan (which runs per file of the
    tree, so it is written out flat)."""
    folder = str(path)
    files = listing.files
    rel_folder = "/".join(parts)
    for file_name, entry in files.items():
        dot = file_name.rfind(".")  # as os.path.splitext: the listing has no dot-files
        suffix = file_name[dot:]
        if dot <= 0 or suffix.lower() not in VIDEO_SUFFIXES:
            continue
        stem = file_name[:dot]
        found = recognize_split(file_name, stem, suffix, files)
        if found is None:
            logger.debug("not an episode path=%r", _join(folder, file_name))
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            logger.debug("recording skipped path=%r error=%s", _join(folder, file_name), exc)
            continue
        layout, sidecar, picture = found
        # The companions in the order of COMPANION_SUFFIXES.
        nfo, jpg, png = stem + ".nfo", stem + "-thumb.jpg", stem + "-thumb.png"
        thumb = jpg if jpg in files else png if png in files else None
        yield RecordingFiles(  # joins written out: this runs per video file of the tree
            f"{folder}/{file_name}",
            f"{rel_folder}/{file_name}",
            streamer,
            stem,
            info.st_size,
            info.st_mtime_ns,
            f"{folder}/{sidecar}" if sidecar is not None and sidecar in files else None,
            f"{folder}/{nfo}" if nfo in files else None,
            None if thumb is None else f"{folder}/{thumb}",
            f"{info.st_size}:{info.st_mtime_ns}:"
            + ",".join(
                (
                    layout,  # a StrEnum: joins as its value
                    "-" if sidecar is None else _entry_sig(files.get(sidecar)),
                    _entry_sig(files.get(nfo)),
                    _entry_sig(files.get(jpg)),
                    _entry_sig(files.get(png)),
                    "-" if picture is None else _entry_sig(files.get(picture)),
                )
            ),
            layout,
            f"{folder}/{picture}" if picture is not None and picture in files else None,
        )


def _join(folder: str, file_name: str) -> str:
    """`folder/file_name` for a listed folder and one of its entries' names (so neither
    needs normalising)."""
    return f"{folder}/{file_name}"


def dir_mtime(recordings: Path, rel: str) -> int | None:
    """mtime_ns of a folder below `recordings` (links not followed), None when it is gone
    or not a folder."""
    try:
        info = os.lstat(recordings / rel)
    except OSError:
        return None
    return info.st_mtime_ns if stat.S_ISDIR(info.st_mode) else None


def is_finished(
    mtime_ns: int, now: float, settle_seconds: float, unchanged_since: float | None = None
) -> bool:
    """A recording is finished when it has not changed for `settle_seconds`: its mtime is
    that old, or svimaged has seen it unchanged (same size, mtime and companions) since
    `unchanged_since` that long ago. The second holds also for an mtime in the future (a
    clock running ahead on an NFS server), which the first never would."""
    if now - mtime_ns / 1e9 >= settle_seconds:
        return True
    return unchanged_since is not None and now - unchanged_since >= settle_seconds
