"""A hostile or careless tree: names that are not UTF-8, folders swapped for links while a pass
runs, a linked or broken cache folder, a linked StreamVault `.media`, a user's NFO owned by
someone else, JPEGs with bytes appended, a full disk for NFOs, clocks that run ahead.

What must hold: nothing is written, linked, chmod-ed or deleted outside `recordings` and
`state_dir`; everything that can be processed is; what cannot is counted and said once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import SvimagedError
from svimaged.daemon.watcher import folder_of
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.pictures import make_jpeg
from svimaged.images.codec import to_jpeg
from svimaged.images.store import ImageStore
from svimaged.migrate.importer import migrate
from svimaged.pipeline import Pipeline, run_once
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import build_resources
from svimaged.state import State
from tests.reliability.conftest import build_library, check_integrity, config_data

HOUR = 3600.0


def tree_files(root: Path) -> dict[str, bytes]:
    """Every regular file below `root` with its bytes (names as bytes-safe text)."""
    out: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out


# -- 1. names that are not UTF-8 ------------------------------------------------------------


def test_names_that_are_not_utf8_are_skipped_counted_and_the_rest_is_processed(
    tmp_path: Path, fake: FakeTwitch, caplog: pytest.LogCaptureFixture
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=4, streamers=2, categories=1)
    expected = lib.expected_nfos()
    root = os.fsencode(lib.root)
    os.mkdir(root + b"/bad\xffstreamer")
    Path(os.fsdecode(root + b"/bad\xffstreamer/x - S202611E01.mp4")).write_bytes(b"v")
    streamer = next(p for p in lib.root.iterdir() if not p.name.startswith("."))
    season = next(p for p in streamer.iterdir() if p.is_dir())
    Path(os.fsdecode(os.fsencode(season) + b"/latin1 caf\xe9 - S202611E09.mp4")).write_bytes(b"v")
    os.mkdir(os.fsencode(streamer) + b"/sub\xfe")
    for path in lib.root.rglob("*"):
        os.utime(path, (time.time() - HOUR,) * 2)
    summary = run_once(parse_config(config_data(fake, tmp_path), {}), FakeClock(time.time()))
    assert summary.errors == 3
    found = check_integrity(lib.root)
    assert found.nfos == expected and found.problems == []
    assert caplog.text.count("name is not UTF-8") == 3
    assert "bad\\\\xffstreamer" in caplog.text or "bad\\xffstreamer" in caplog.text
    assert folder_of(lib.root, root + b"/bad\xffstreamer/x.mp4") is None


# -- 2. folders swapped for links while a pass runs ------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the tree, with a file the daemon must never replace."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "tvshow.nfo").write_bytes(b"<tvshow><title>not yours</title></tvshow>")
    return place


def swap_during_pass(
    monkeypatch: pytest.MonkeyPatch, swap: Any
) -> None:  # fmt: skip
    """Run `swap()` once between the pass's reading (the scan is done) and its writing."""
    real = Pass.transfer
    swapped: list[bool] = []

    def transfer(self: Pass, *args: Any, **kwargs: Any) -> Any:
        if not swapped:
            swapped.append(True)
            swap()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Pass, "transfer", transfer)


@pytest.mark.parametrize("which", ["streamer folder", "season folder"])
def test_a_folder_swapped_for_a_link_mid_pass_gets_nothing_written_through_it(
    which: str,
    tmp_path: Path,
    fake: FakeTwitch,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=8, streamers=2, categories=2)
    before = tree_files(outside)
    streamer = sorted(p for p in lib.root.iterdir() if not p.name.startswith("."))[0]
    target = streamer if which == "streamer folder" else next(streamer.glob("Season *"))
    copy = outside / target.name

    def swap() -> None:
        target.rename(copy)  # the real files go outside...
        target.symlink_to(copy)  # ...and a link takes the folder's place

    swap_during_pass(monkeypatch, swap)
    data = config_data(fake, tmp_path, media_servers=["kodi", "jellyfin", "plex"])
    summary = run_once(parse_config(data, {}), FakeClock(time.time()))
    after = tree_files(outside)
    written = {name for name in after if name not in before}
    moved = {str(Path(copy.name) / p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()}
    assert written <= moved  # only the files that were moved there, nothing new
    assert {name: after[name] for name in before} == before
    assert (outside / "tvshow.nfo").read_bytes() == before["tvshow.nfo"]
    nfos_outside = [name for name in after if name.endswith(".nfo") and name not in before]
    moved_nfos = {name for name in moved if name.endswith(".nfo")}
    assert set(nfos_outside) == moved_nfos == set()  # no NFO was created through the link
    assert summary.errors > 0  # refused writes are counted, the pass finished


# -- 3. a linked or broken cache folder ------------------------------------------------------


def test_a_linked_cache_folder_is_refused_at_start(
    tmp_path: Path, fake: FakeTwitch, outside: Path
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=2, streamers=1, categories=1)
    (lib.root / ".images").symlink_to(outside)
    with pytest.raises(SvimagedError, match="symbolic link"):
        run_once(parse_config(config_data(fake, tmp_path), {}), FakeClock(time.time()))
    assert sorted(os.listdir(outside)) == ["tvshow.nfo"]


@pytest.mark.parametrize("kind", ["file", "link"])
def test_a_file_or_link_named_artwork_in_the_cache_refuses_only_those_images(
    kind: str, tmp_path: Path, fake: FakeTwitch, outside: Path
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=4, streamers=2, categories=2)
    images = lib.root / ".images"
    images.mkdir()
    if kind == "file":
        (images / "artwork").write_bytes(b"not a folder")
    else:
        (images / "artwork").symlink_to(outside)
    summary = run_once(parse_config(config_data(fake, tmp_path), {}), FakeClock(time.time()))
    found = check_integrity(lib.root)
    assert found.nfos == lib.expected_nfos()  # every NFO still written
    assert (images / "profiles").is_dir() and any((images / "profiles").iterdir())
    assert summary.errors + summary.failed > 0
    assert sorted(os.listdir(outside)) == ["tvshow.nfo"]


# -- 4. migrate never follows a linked .media ------------------------------------------------


def test_migrate_does_not_follow_a_linked_media_folder(tmp_path: Path, outside: Path) -> None:
    rec = tmp_path / "rec"
    (rec / "alice").mkdir(parents=True)
    (outside / "profiles").mkdir()
    secret = outside / "profiles" / "profile_avatar_123456789.jpg"
    secret.write_bytes(make_jpeg(8, 8))
    secret.chmod(0o600)
    (rec / ".media").symlink_to(outside)
    state = State.open(tmp_path / "state" / "state.db")
    try:
        report = migrate(rec, ImageStore(rec / ".images"), state, clock=FakeClock())
    finally:
        state.close()
    assert report.imported == []
    assert any("symlink" in reason for _source, reason in report.skipped)
    assert not (rec / ".images").exists() or not any((rec / ".images").rglob("*.jpg"))


# -- 8. a user's NFO keeps its owner, group and mode ------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_merging_a_users_nfo_keeps_its_owner_group_and_mode(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=2, streamers=1, categories=1)
    video = sorted(lib.root.rglob("*.mp4"))[0]
    nfo = video.with_suffix(".nfo")
    nfo.write_bytes(b"<episodedetails><userrating>7</userrating></episodedetails>")
    os.chown(nfo, 1000, 1000)
    nfo.chmod(0o640)
    run_once(parse_config(config_data(fake, tmp_path), {}), FakeClock(time.time()))
    info = nfo.stat()
    assert b"<thumb>" in nfo.read_bytes()  # merged
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (1000, 1000, 0o640)


# -- 17. bytes after a JPEG's end ----------------------------------------------------------


def test_a_jpeg_with_a_zip_or_html_appended_is_cut_at_its_end() -> None:
    jpeg = make_jpeg(32, 18, seed=5)
    for tail in (b"PK\x03\x04" + b"z" * 100, b"<html><script>alert(1)</script></html>"):
        assert to_jpeg(jpeg + tail) == jpeg


# -- 18. NFO writes that fail on a full disk are in stats -------------------------------------


def test_nfo_writes_that_fail_are_in_stats_with_why(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import svimaged.nfo.files

    lib = build_library(fake, tmp_path / "rec", recordings=3, streamers=1, categories=1)

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(svimaged.nfo.files, "stage_at", full)
    clock = FakeClock(time.time())
    res = build_resources(parse_config(config_data(fake, tmp_path), {}), clock)
    try:
        engine = Pipeline(res)
        summary = engine.full_pass()
        stats = engine.stats()
    finally:
        res.close()
    nfo = stats["nfo"]
    assert isinstance(nfo, dict)
    assert nfo["errors"] == summary.errors == len(lib.expected_nfos())
    reasons = {entry["reason"] for entry in nfo["left_alone"]}
    assert reasons == {"write failed: No space left on device"}


# -- 20. a clock that runs ahead -----------------------------------------------------------


def test_a_recording_with_an_mtime_in_the_future_settles_by_svimaged_clock(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    lib = build_library(fake, tmp_path / "rec", recordings=2, streamers=1, categories=1)
    clock = FakeClock(time.time())
    future = clock.time() + 5 * HOUR  # an NFS server whose clock runs 5 h ahead
    for video in lib.root.rglob("*.mp4"):
        os.utime(video, (future, future))
    cfg = parse_config(config_data(fake, tmp_path), {})
    first = run_once(cfg, clock)
    assert first.pending == 2 and check_integrity(lib.root).nfos <= {
        p for p in lib.expected_nfos() if p.name == "tvshow.nfo"
    }
    clock.advance(60)  # unchanged for longer than settle_seconds, by svimaged's clock
    second = run_once(cfg, clock)
    assert second.pending == 0
    assert check_integrity(lib.root).nfos == lib.expected_nfos()


# -- 7. only URLs the fetcher accepts appear in NFOs ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/thumb.jpg",  # link-local, not allowed
        "https://10.0.0.5/thumb.jpg",
        "https://evil.example/thumb.jpg",  # outside download.allowed_hosts
        "https://user:pw@static-cdn.jtvnw.net/thumb.jpg",
    ],
)
def test_a_refused_thumbnail_url_never_reaches_an_nfo(
    url: str, tmp_path: Path, fake: FakeTwitch
) -> None:
    rec = tmp_path / "rec"
    (rec / "alice").mkdir(parents=True)
    video = rec / "alice" / "alice - S202611E01 - x.mp4"
    video.write_bytes(b"v")
    video.with_suffix(".info.json").write_text(
        '{"id": "v9", "uploader_id": "alice", "thumbnail": "' + url + '"}'
    )
    for path in (video, video.with_suffix(".info.json")):
        os.utime(path, (time.time() - HOUR,) * 2)
    run_once(parse_config(config_data(fake, tmp_path), {}), FakeClock(time.time()))
    assert url not in video.with_suffix(".nfo").read_text()
    assert url.split("/")[2] not in video.with_suffix(".nfo").read_text()


def test_acceptable_offline_judges_without_dns() -> None:
    from svimaged.images.urlpolicy import FetchPolicy, acceptable_offline

    policy = FetchPolicy(allowed_hosts=frozenset({"static-cdn.jtvnw.net", "10.0.0.5"}))
    assert acceptable_offline("https://static-cdn.jtvnw.net/a.jpg", policy)
    assert not acceptable_offline("https://10.0.0.5/a.jpg", policy)  # listed, but private
    assert not acceptable_offline("http://static-cdn.jtvnw.net/a.jpg", policy)
    private = FetchPolicy(allowed_hosts=frozenset({"10.0.0.5"}), allow_private_networks=True)
    assert acceptable_offline("https://10.0.0.5/a.jpg", private)


# -- 5 and 17. a cache file changed behind svimaged's back is never served as a JPEG --------


def test_a_cache_file_that_is_no_longer_a_jpeg_is_not_served(tmp_path: Path) -> None:
    from svimaged.control.files import serve_image
    from svimaged.core.errors import NotFoundError

    images = tmp_path / "rec" / ".images"
    (images / "profiles").mkdir(parents=True)
    good = images / "profiles" / "profile_avatar_1.jpg"
    good.write_bytes(make_jpeg(8, 8))
    answer = serve_image(str(images), ("profiles",), good.name, "GET", {})
    assert answer.status == 200
    assert ("X-Content-Type-Options", "nosniff") in answer.headers
    assert answer.file is not None
    answer.file.close()
    good.write_bytes(b"<html><script>alert(1)</script></html>")  # rewritten in place
    with pytest.raises(NotFoundError):
        serve_image(str(images), ("profiles",), good.name, "GET", {})
