"""Tests for the output seam: the output writers (`kodi`, `sidecars`) are pure, from a view
to file values; `apply.OutputWriter` does the I/O, skips unchanged bytes, records outcomes
and reports failures in its result instead of raising."""

from __future__ import annotations

import datetime
import errno
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from svimaged.core.clock import FakeClock
from svimaged.core.groupsync import GroupSync
from svimaged.core.model import ImageKind, Origin, RecordingFiles, StreamerFolder
from svimaged.demo.pictures import make_jpeg
from svimaged.images.store import ImageStore
from svimaged.nfo.model import EpisodeInfo, ShowInfo
from svimaged.nfo.xml import parse_xml
from svimaged.outputs import apply
from svimaged.outputs.apply import FolderResult, OutputWriter
from svimaged.outputs.base import EpisodeView, FileOutput, ImageFile, NfoFile, ShowView
from svimaged.outputs.grouped import GroupedWrites
from svimaged.outputs.images import ServerImages
from svimaged.outputs.kodi import KodiNfo
from svimaged.state import OwnerKind, State

STEM = "alice - S202611E01 - Morning"
PROFILE = "profiles/profile_avatar_1.jpg"
ART = "artwork/1/stream_7.jpg"


def view(root: Path, *, poster_rel: str | None = PROFILE, thumb_rel: str | None = ART) -> ShowView:
    folder = root / "Alice"
    video = folder / "Season 2026-11" / f"{STEM}.mp4"
    files = RecordingFiles(
        video=str(video), rel=f"Alice/Season 2026-11/{STEM}.mp4", streamer_folder="Alice",
        stem=STEM, size=1, mtime_ns=1,
    )  # fmt: skip
    episode = EpisodeInfo(
        title="Morning", showtitle="Alice", season=202611, episode=1,
        aired=datetime.date(2026, 11, 1), genre="Just Chatting", stream_id="7",
        thumb=f"/data/.images/{ART}",
    )  # fmt: skip
    show = ShowInfo(
        title="Alice", plot=None, user_id="1", poster=f"/data/.images/{PROFILE}", fanart=None
    )
    streamer = StreamerFolder(name="Alice", path=folder, tvshow_nfo=None, recordings=(files,))
    return ShowView(streamer, show, poster_rel, (EpisodeView(files, episode, thumb_rel),))


def test_kodi_output_is_tvshow_nfo_and_one_nfo_per_episode(tmp_path: Path) -> None:
    files = list(KodiNfo().files(view(tmp_path)))
    assert [f.path.name for f in files] == ["tvshow.nfo", f"{STEM}.nfo"]
    assert all(isinstance(f, NfoFile) for f in files)
    tvshow, episode = files
    assert isinstance(tvshow, NfoFile) and isinstance(episode, NfoFile)
    assert tvshow.recording is None and episode.recording == f"Alice/Season 2026-11/{STEM}.mp4"
    assert tvshow.absent and episode.absent  # the scan listed neither: written without a look
    listed = view(tmp_path)
    rec = listed.episodes[0].files._replace(nfo=str(episode.path))
    folder = replace(listed.folder, tvshow_nfo=tvshow.path)
    listed = replace(listed, folder=folder, episodes=(replace(listed.episodes[0], files=rec),))
    assert [f.absent for f in KodiNfo().files(listed)] == [False, False]
    root = parse_xml(episode.merge(None))
    assert root.tag == "episodedetails" and root.findtext("thumb") == f"/data/.images/{ART}"
    assert parse_xml(tvshow.merge(None)).findtext("title") == "Alice"


def test_plex_image_output_is_poster_and_episode_images(tmp_path: Path) -> None:
    poster, thumb = ServerImages(["plex"]).files(view(tmp_path))
    assert isinstance(poster, ImageFile) and isinstance(thumb, ImageFile)
    assert (poster.path.name, poster.rel, poster.owner_kind, poster.owner) == (
        "poster.jpg", PROFILE, OwnerKind.FOLDER, "Alice",
    )  # fmt: skip
    assert (thumb.path.name, thumb.rel, thumb.owner_kind) == (
        f"{STEM}.jpg", ART, OwnerKind.RECORDING,
    )  # fmt: skip
    assert list(ServerImages(["plex"]).files(view(tmp_path, poster_rel=None, thumb_rel=None))) == []
    assert list(ServerImages(["kodi"]).files(view(tmp_path))) == []


@pytest.fixture
def writer(tmp_path: Path, state: State) -> OutputWriter:
    (tmp_path / "rec").mkdir()
    store = ImageStore(tmp_path / "rec" / ".images")
    stored = store.store(ART, make_jpeg(8, 8, seed=1))
    state.images.record_success(
        ART, ImageKind.ARTWORK, "1/7", origin=Origin.URL, source="https://x/a.jpg", etag=None,
        last_modified=None, sha256=stored.sha256, size=stored.size, at=1.0,
    )  # fmt: skip
    return OutputWriter(state, store, FakeClock(), tmp_path / "rec", "copy")


def test_writer_writes_then_skips_identical_bytes(tmp_path: Path, writer: OutputWriter) -> None:
    shown = view(tmp_path / "rec")
    Path(shown.episodes[0].files.video).parent.mkdir(parents=True)
    files = [*KodiNfo().files(shown), *ServerImages(["plex"]).files(shown)]
    first = writer.write(files)
    assert [Path(p).name for p in first.written] == ["tvshow.nfo", f"{STEM}.nfo"]
    assert [p.name for p in first.placed] == [f"{STEM}.jpg"]  # profile not cached yet
    assert first.recordings_written == {f"Alice/Season 2026-11/{STEM}.mp4"}
    assert first.touched == {f"{tmp_path}/rec/Alice", f"{tmp_path}/rec/Alice/Season 2026-11"}
    second = writer.write(files)
    assert second.written == [] and second.placed == [] and second.unchanged == 2
    assert second.touched == set() and second.errors == 0


def test_writer_reports_a_file_it_must_leave_alone_and_failed_writes(
    tmp_path: Path, writer: OutputWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = view(tmp_path / "rec")
    season = Path(shown.episodes[0].files.video).parent
    season.mkdir(parents=True)
    nfo = season / f"{STEM}.nfo"
    nfo.write_bytes(b"<episodedetails><title>broken")
    real = apply.update_nfo_at

    def disk_full(dir_fd: int, path: str, *args: Any, **kwargs: Any) -> Any:
        if Path(path).name == "tvshow.nfo":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(dir_fd, path, *args, **kwargs)

    monkeypatch.setattr(apply, "update_nfo_at", disk_full)
    result = writer.write(KodiNfo().files(shown))
    assert [path for path, _exc in result.bad_files] == [nfo]
    assert nfo.read_bytes() == b"<episodedetails><title>broken"  # left as it was
    assert result.folder_failed and result.errors == 1 and result.failed_recordings == set()
    nfo.unlink()
    monkeypatch.setattr(apply, "place", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "full")))
    result = writer.write([*KodiNfo().files(shown), *ServerImages(["plex"]).files(shown)])
    assert result.failed_recordings == {f"Alice/Season 2026-11/{STEM}.mp4"}
    assert result.errors == 2 and [Path(p).name for p in result.written] == [f"{STEM}.nfo"]


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors every `os.fsync` from now on is called with (the calls still run)."""
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counted)
    return fsyncs


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".svimaged-tmp-" in p.name)


def _grouped(writer: OutputWriter, files: list[FileOutput], group: GroupSync) -> FolderResult:
    """One folder written with shared syncs (`outputs.grouped`), recorded."""
    with ThreadPoolExecutor(1) as syncs:
        grouped: GroupedWrites[str] = GroupedWrites(writer, group, syncs)
        try:
            assert grouped.add("Alice", writer.prepare(files)) == []
            ((key, done),) = grouped.finish()
        finally:
            grouped.close()
    assert key == "Alice"
    return writer.record(done)


def test_with_a_shared_sync_the_nfos_are_renamed_only_after_their_data_is_synced(
    tmp_path: Path, writer: OutputWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many folders at once (`core.groupsync`): the NFOs of a folder are staged without an
    fsync each, one shared sync makes their data durable, and only then do they get their
    names; a second sync makes the renames durable."""
    shown = view(tmp_path / "rec")
    alice = tmp_path / "rec" / "Alice"
    (alice / "Season 2026-11").mkdir(parents=True)
    seen: list[tuple[list[str], list[str]]] = []

    def syncfs(fd: int) -> None:
        finals = sorted(p.name for p in alice.rglob("*.nfo") if ".svimaged-tmp-" not in p.name)
        seen.append((finals, _temporaries(alice)))

    fsyncs = _count_fsyncs(monkeypatch)
    group = GroupSync(-1, syncfs)
    result = _grouped(writer, list(KodiNfo().files(shown)), group)
    assert [Path(p).name for p in result.written] == ["tvshow.nfo", f"{STEM}.nfo"]
    assert result.errors == 0 and group.syncs == 2
    (finals_1, temps_1), (finals_2, temps_2) = seen
    assert finals_1 == [] and len(temps_1) == 2  # staged, not yet in place
    assert finals_2 == [f"{STEM}.nfo", "tvshow.nfo"] and temps_2 == []
    assert fsyncs == []  # no fsync per file or per folder
    assert parse_xml((alice / "tvshow.nfo").read_bytes()).findtext("title") == "Alice"
    assert _temporaries(alice) == []


def test_a_failed_shared_sync_leaves_the_old_files_and_no_temporaries(
    tmp_path: Path, writer: OutputWriter
) -> None:
    shown = view(tmp_path / "rec")
    alice = tmp_path / "rec" / "Alice"
    (alice / "Season 2026-11").mkdir(parents=True)
    old = b"<tvshow><title>Old</title></tvshow>"
    (alice / "tvshow.nfo").write_bytes(old)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    result = _grouped(writer, list(KodiNfo().files(shown)), GroupSync(-1, broken))
    assert result.written == [] and result.errors == 2
    assert result.folder_failed and result.failed_recordings == {f"Alice/Season 2026-11/{STEM}.mp4"}
    assert (alice / "tvshow.nfo").read_bytes() == old
    assert not (alice / "Season 2026-11" / f"{STEM}.nfo").exists()
    assert _temporaries(alice) == []
    again = writer.write(KodiNfo().files(shown))  # the next pass writes them
    assert [Path(p).name for p in again.written] == ["tvshow.nfo", f"{STEM}.nfo"]


def test_where_syncfs_is_not_allowed_the_staged_nfos_are_fsynced_one_by_one(
    tmp_path: Path, writer: OutputWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seccomp profile that answers `syncfs` with EPERM: the folder's NFOs are still
    written, each fsynced on its own before its rename, and the group says it is not
    usable (the next folders keep their own fsyncs)."""
    shown = view(tmp_path / "rec")
    alice = tmp_path / "rec" / "Alice"
    (alice / "Season 2026-11").mkdir(parents=True)

    def forbidden(fd: int) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    fsyncs = _count_fsyncs(monkeypatch)
    group = GroupSync(-1, forbidden)
    result = _grouped(writer, list(KodiNfo().files(shown)), group)
    assert [Path(p).name for p in result.written] == ["tvshow.nfo", f"{STEM}.nfo"]
    assert result.errors == 0 and group.unsupported
    assert len(fsyncs) == 2 + 2  # each staged file, then its two folders
    assert _temporaries(alice) == []
    assert parse_xml((alice / "tvshow.nfo").read_bytes()).findtext("title") == "Alice"
