"""Tests for svimaged.library.scan: reading the recordings tree (contract section 2)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from svimaged.core.errors import MetadataError
from svimaged.core.model import StreamerFolder
from svimaged.library.scan import (
    companion_sig,
    file_sig,
    is_finished,
    list_streamer_folders,
    resign,
    scan_streamer,
    scan_tree,
)

STEM = "alice - S202611E03 - Speedrun & Chill"


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rels(folder: StreamerFolder) -> list[str]:
    return [rec.rel for rec in folder.recordings]


@pytest.fixture
def streamvault(tmp_path: Path) -> Path:
    """A StreamVault layout with every companion, plus the dot-folders it leaves."""
    season = tmp_path / "Streamer Name" / "Season 2026-11"
    touch(season / f"{STEM}.mp4", b"v" * 123)
    touch(season / f"{STEM}.info.json", b"{}")
    touch(season / f"{STEM}.nfo", b"<episodedetails/>")
    touch(season / f"{STEM}-thumb.jpg")
    touch(tmp_path / "Streamer Name" / "tvshow.nfo", b"<tvshow/>")
    touch(tmp_path / ".images" / "profiles" / "x.mp4")
    touch(tmp_path / ".media" / "artwork" / "bob" / "y.mkv")
    return tmp_path


def test_streamvault_layout_with_companions(streamvault: Path) -> None:
    folder = scan_streamer(streamvault, "Streamer Name")
    assert folder.name == "Streamer Name"
    assert folder.path == streamvault / "Streamer Name"
    assert folder.tvshow_nfo == streamvault / "Streamer Name" / "tvshow.nfo"
    (rec,) = folder.recordings
    season = streamvault / "Streamer Name" / "Season 2026-11"
    assert rec.video == str(season / f"{STEM}.mp4")
    assert rec.rel == f"Streamer Name/Season 2026-11/{STEM}.mp4"
    assert rec.streamer_folder == "Streamer Name"
    assert rec.stem == STEM
    assert rec.size == 123
    assert rec.mtime_ns == os.lstat(rec.video).st_mtime_ns
    assert rec.sidecar == str(season / f"{STEM}.info.json")
    assert rec.nfo == str(season / f"{STEM}.nfo")
    assert rec.thumb == str(season / f"{STEM}-thumb.jpg")


def test_missing_companions_are_none(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "vod.mp4")
    (rec,) = scan_streamer(tmp_path, "bob").recordings
    assert (rec.sidecar, rec.nfo, rec.thumb) == (None, None, None)
    assert scan_streamer(tmp_path, "bob").tvshow_nfo is None


def test_thumb_png_only_when_no_jpg(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "a.mp4")
    touch(tmp_path / "bob" / "a-thumb.png")
    touch(tmp_path / "bob" / "b.mp4")
    touch(tmp_path / "bob" / "b-thumb.png")
    touch(tmp_path / "bob" / "b-thumb.jpg")
    a, b = scan_streamer(tmp_path, "bob").recordings
    assert a.thumb == str(tmp_path / "bob" / "a-thumb.png")
    assert b.thumb == str(tmp_path / "bob" / "b-thumb.jpg")


def test_companion_must_be_a_regular_file_in_the_same_folder(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "a.mp4")
    (tmp_path / "bob" / "a.info.json").mkdir()
    touch(tmp_path / "bob" / "sub" / "a.nfo")
    os.symlink(tmp_path / "bob" / "sub" / "a.nfo", tmp_path / "bob" / "a.nfo")
    rec = next(r for r in scan_streamer(tmp_path, "bob").recordings if r.stem == "a")
    assert rec.sidecar is None
    assert rec.nfo is None


def test_tvshow_nfo_only_at_folder_root(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "Season 1" / "tvshow.nfo")
    touch(tmp_path / "bob" / "Season 1" / "x.mp4")
    assert scan_streamer(tmp_path, "bob").tvshow_nfo is None


def test_ytdlp_layout_at_any_depth(tmp_path: Path) -> None:
    touch(tmp_path / "carol" / "v123.mp4")
    touch(tmp_path / "carol" / "v123.info.json")
    touch(tmp_path / "carol" / "2026" / "11" / "03" / "v456.ts")
    touch(tmp_path / "carol" / "2026" / "11" / "03" / "v456.info.json")
    touch(tmp_path / "carol" / "old" / "clip.flv")
    touch(tmp_path / "carol" / "old" / "clip.m4v")
    folder = scan_streamer(tmp_path, "carol")
    assert rels(folder) == [
        "carol/2026/11/03/v456.ts",
        "carol/old/clip.flv",
        "carol/old/clip.m4v",
        "carol/v123.mp4",
    ]
    deep = folder.recordings[0]
    assert deep.sidecar == str(tmp_path / "carol" / "2026" / "11" / "03" / "v456.info.json")
    assert folder.recordings[3].sidecar == str(tmp_path / "carol" / "v123.info.json")


def test_suffixes_case_insensitive_and_only_video(tmp_path: Path) -> None:
    for name in ("a.MKV", "b.Mp4", "c.TS", "d.txt", "e.mp4.part", "f.jpg", "g", "h.mp4x"):
        touch(tmp_path / "bob" / name)
    folder = scan_streamer(tmp_path, "bob")
    assert rels(folder) == ["bob/a.MKV", "bob/b.Mp4", "bob/c.TS"]
    assert [r.stem for r in folder.recordings] == ["a", "b", "c"]


def test_mixed_case_suffix_keeps_companions(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "Stream.MKV")
    touch(tmp_path / "bob" / "Stream.info.json")
    (rec,) = scan_streamer(tmp_path, "bob").recordings
    assert rec.sidecar == str(tmp_path / "bob" / "Stream.info.json")


def test_dot_folders_and_dot_files_are_never_input(streamvault: Path) -> None:
    touch(streamvault / "Streamer Name" / ".hidden" / "z.mp4")
    touch(streamvault / "Streamer Name" / ".partial.mp4")
    assert list_streamer_folders(streamvault) == ["Streamer Name"]
    folders = list(scan_tree(streamvault))
    assert [f.name for f in folders] == ["Streamer Name"]
    assert rels(folders[0]) == [f"Streamer Name/Season 2026-11/{STEM}.mp4"]


def test_video_at_recordings_root_is_not_a_recording(tmp_path: Path) -> None:
    touch(tmp_path / "loose.mp4")
    touch(tmp_path / "bob" / "a.mp4")
    assert list_streamer_folders(tmp_path) == ["bob"]
    assert [rels(f) for f in scan_tree(tmp_path)] == [["bob/a.mp4"]]


def test_streamer_folders_sorted(tmp_path: Path) -> None:
    for name in ("zed", "Alice", "bob", "_under"):
        (tmp_path / name).mkdir()
    assert list_streamer_folders(tmp_path) == sorted(["zed", "Alice", "bob", "_under"])
    assert [f.name for f in scan_tree(tmp_path)] == sorted(["zed", "Alice", "bob", "_under"])


def test_recordings_sorted_by_rel(tmp_path: Path) -> None:
    for rel in ("b/z.mp4", "b/a/y.mp4", "b/A.mp4", "b/a.mp4", "b/c/d/e.mkv"):
        touch(tmp_path / rel)
    folder = scan_streamer(tmp_path, "b")
    assert rels(folder) == sorted(rels(folder))
    assert len(folder.recordings) == 5


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    touch(tmp_path / "bob" / "a" / "x.mp4")
    os.symlink("..", tmp_path / "bob" / "a" / "b")
    os.symlink(tmp_path / "bob", tmp_path / "bob" / "a" / "self")
    assert rels(scan_streamer(tmp_path, "bob")) == ["bob/a/x.mp4"]


def test_symlinks_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    touch(outside / "elsewhere.mp4")
    rec_root = tmp_path / "recordings"
    touch(rec_root / "bob" / "real.mp4")
    os.symlink(outside, rec_root / "linked_outside")
    os.symlink(rec_root / "bob", rec_root / "alias_inside")
    os.symlink(outside / "elsewhere.mp4", rec_root / "bob" / "linked.mp4")
    os.symlink(outside, rec_root / "bob" / "linked_dir")
    assert list_streamer_folders(rec_root) == ["bob"]
    assert [rels(f) for f in scan_tree(rec_root)] == [["bob/real.mp4"]]
    with pytest.raises(MetadataError, match="alias_inside"):
        scan_streamer(rec_root, "alias_inside")


def real_scandir_failing_for(monkeypatch: pytest.MonkeyPatch, bad: Path) -> None:
    """Listing `bad` fails as for a folder this user may not read (the tests run as root,
    so it is injected): opening it as a folder, or listing it by path, is refused."""
    real_open, real_scandir = os.open, os.scandir

    def opener(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECTORY and kwargs.get("dir_fd") is None and Path(path) == bad:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def scandir(path: Any = ".") -> Any:
        if not isinstance(path, int) and Path(str(path)) == bad:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", opener)
    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_subfolder_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path / "bob" / "ok" / "a.mp4")
    touch(tmp_path / "bob" / "secret" / "b.mp4")
    real_scandir_failing_for(monkeypatch, tmp_path / "bob" / "secret")
    skipped: list[Path] = []
    with caplog.at_level(logging.WARNING, logger="svimaged.library.scan"):
        folder = scan_streamer(tmp_path, "bob", on_error=skipped.append)
    assert rels(folder) == ["bob/ok/a.mp4"]
    assert skipped == [tmp_path / "bob" / "secret"]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert str(tmp_path / "bob" / "secret") in record.getMessage()


def test_unreadable_streamer_folder_skipped_by_scan_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path / "alice" / "a.mp4")
    touch(tmp_path / "bob" / "b.mp4")
    real_scandir_failing_for(monkeypatch, tmp_path / "alice")
    skipped: list[Path] = []
    with caplog.at_level(logging.WARNING, logger="svimaged.library.scan"):
        folders = list(scan_tree(tmp_path, on_error=skipped.append))
    assert [f.name for f in folders] == ["bob"]
    assert skipped == [tmp_path / "alice"]
    assert str(tmp_path / "alice") in caplog.text
    with pytest.raises(MetadataError, match="alice"):
        scan_streamer(tmp_path, "alice")


def test_missing_root_raises_naming_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(MetadataError, match="nope"):
        list_streamer_folders(missing)
    with pytest.raises(MetadataError, match="nope"):
        scan_tree(missing)


def test_root_that_is_a_file_raises(tmp_path: Path) -> None:
    file_root = touch(tmp_path / "file")
    with pytest.raises(MetadataError, match="file"):
        list(scan_tree(file_root))


def test_unreadable_root_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_scandir_failing_for(monkeypatch, tmp_path)
    with pytest.raises(MetadataError, match=str(tmp_path)):
        scan_tree(tmp_path)


@pytest.mark.parametrize("name", ["", ".images", "..", "a/b", "a\0b", "missing"])
def test_scan_streamer_refuses_bad_names(tmp_path: Path, name: str) -> None:
    touch(tmp_path / ".images" / "x.mp4")
    with pytest.raises(MetadataError):
        scan_streamer(tmp_path, name)


def test_streamer_name_that_is_a_file_raises(tmp_path: Path) -> None:
    touch(tmp_path / "bob")
    with pytest.raises(MetadataError, match="bob"):
        scan_streamer(tmp_path, "bob")


def test_hostile_file_names(tmp_path: Path) -> None:
    long_stem = "ü" * 122 + "xx"  # 246 bytes; with ".mp4" 250 bytes
    names = ["line\nbreak.mp4", "Pokémon 日本語 🎮.mkv", f"{long_stem}.mp4"]
    for name in names:
        touch(tmp_path / "Ünïcødé streamer" / name)
    touch(tmp_path / "Ünïcødé streamer" / f"{long_stem}.nfo")
    folder = scan_streamer(tmp_path, "Ünïcødé streamer")
    assert sorted(r.rel.split("/", 1)[1] for r in folder.recordings) == sorted(names)
    long_rec = next(r for r in folder.recordings if r.stem == long_stem)
    assert len(Path(long_rec.video).name.encode()) == 250
    assert long_rec.nfo == str(tmp_path / "Ünïcødé streamer" / f"{long_stem}.nfo")
    newline = next(r for r in folder.recordings if "\n" in r.stem)
    assert Path(newline.video).exists()


def test_non_utf8_file_name(tmp_path: Path) -> None:
    (tmp_path / "bob").mkdir()
    raw = os.fsencode(tmp_path / "bob") + b"/caf\xe9.mp4"
    fd = os.open(raw, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    touch(tmp_path / "bob" / "ok.mp4")
    folder = scan_streamer(tmp_path, "bob")
    assert rels(folder) == ["bob/ok.mp4"]  # skipped: no database or NFO can hold the name
    assert [os.fsencode(p) for p in folder.bad_names] == [raw]


def test_newline_in_streamer_folder_name(tmp_path: Path) -> None:
    touch(tmp_path / "evil\nname" / "a.mp4")
    (folder,) = scan_tree(tmp_path)
    assert folder.name == "evil\nname"
    assert rels(folder) == ["evil\nname/a.mp4"]


def test_scan_reads_no_file_contents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "bob" / "a.mp4")
    touch(tmp_path / "bob" / "a.info.json")

    real_open = os.open

    def folders_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if not flags & os.O_DIRECTORY:  # folders are opened to be listed; files never
            raise AssertionError("tree opened a file")
        return real_open(path, flags, *args, **kwargs)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tree opened a file")

    monkeypatch.setattr(os, "open", folders_only)
    monkeypatch.setattr("builtins.open", refuse)
    (folder,) = scan_tree(tmp_path)
    assert len(folder.recordings) == 1


def test_is_finished_boundaries() -> None:
    now, settle = 1_780_000_000.0, 5.0
    edge_ns = int(now - settle) * 1_000_000_000
    assert is_finished(edge_ns, now, settle) is True
    assert is_finished(edge_ns - 1_000_000_000, now, settle) is True
    assert is_finished(edge_ns + 1_000_000, now, settle) is False  # 1 ms too young
    assert is_finished(int(now) * 1_000_000_000, now, settle) is False
    assert is_finished(int(now + 3600) * 1_000_000_000, now, settle) is False  # future mtime
    assert is_finished(int(now) * 1_000_000_000, now, 0.0) is True


def test_resign_takes_what_was_written_and_keeps_the_rest_as_scanned(tmp_path: Path) -> None:
    """After a pass writes a recording's NFO, its signature is re-made from what the writer
    knows of the new file (no stat of the other companions): equal to what the next scan
    computes, while a companion changed behind the pass still differs from it."""
    season = tmp_path / "alice" / "Season 2026-11"
    touch(season / f"{STEM}.mp4")
    touch(season / f"{STEM}.info.json", b"{}")
    rec = scan_streamer(tmp_path, "alice").recordings[0]
    nfo = touch(season / f"{STEM}.nfo", b"<episodedetails/>")
    resigned = resign(rec, {str(nfo): file_sig(nfo)})
    assert resigned == scan_streamer(tmp_path, "alice").recordings[0].companions
    assert resigned == companion_sig(rec)
    os.utime(season / f"{STEM}.info.json", ns=(1, 1))  # changed behind the pass
    assert resign(rec, {str(nfo): file_sig(nfo)}) != companion_sig(rec)
    bare = rec._replace(signature="")  # built without a scan: read in full
    assert resign(bare, {}) == companion_sig(rec)


def test_the_scan_closes_every_folder_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each listed folder stays open only while its entries are stat-ed: none is left open
    after a scan, also not after a sub-folder that could not be listed."""
    for n in range(5):
        touch(tmp_path / "bob" / f"Season {n}" / f"bob - S20261{n}E01 - x.mp4")
    touch(tmp_path / "bob" / "secret" / "b.mp4")
    real_scandir_failing_for(monkeypatch, tmp_path / "bob" / "secret")
    before = len(os.listdir("/proc/self/fd"))
    (folder,) = scan_tree(tmp_path)
    assert len(folder.recordings) == 5
    assert len(os.listdir("/proc/self/fd")) == before
