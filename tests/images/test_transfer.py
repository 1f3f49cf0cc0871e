"""Tests for svimaged.images.transfer.Transferer against the fake Twitch CDN: conversion to JPEG,
failures with backoff, conditional refresh, no rewrite of identical bytes, bounded
concurrency, full disks and hostile cache names."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from svimaged.config import RetryConfig
from svimaged.core.clock import FakeClock
from svimaged.core.model import ImageKind, Origin
from svimaged.core.names import artwork_rel, profile_rel
from svimaged.demo.fake_twitch import (
    ALICE_ID,
    BOB_ID,
    CHLOE_ID,
    DANA_ID,
    FakeTwitch,
    sample_library,
)
from svimaged.demo.pictures import make_jpeg, make_png
from svimaged.images.fetch import Fetcher
from svimaged.images.store import ImageStore, sniff
from svimaged.images.tasks import Action, ImageTask, decide
from svimaged.images.transfer import Outcome, Transferer
from svimaged.images.urlpolicy import FetchPolicy
from svimaged.state import State

RETRY = RetryConfig(initial=60.0, max=86_400.0)


@dataclass
class Rig:
    fake: FakeTwitch
    fetcher: Fetcher
    store: ImageStore
    state: State
    clock: FakeClock
    transferer: Transferer

    def profile_task(self, user_id: str) -> ImageTask:
        url = self.fake.url_for("profile", user_id)
        return ImageTask(profile_rel(user_id), ImageKind.PROFILE, user_id, url=url)


def make_rig(
    fake: FakeTwitch, tmp_path: Path, state: State, clock: FakeClock, *, concurrency: int = 4
) -> Rig:
    port = urlsplit(fake.base_url).port
    policy = FetchPolicy(
        allowed_hosts=frozenset({f"127.0.0.1:{port}"}),
        require_https=False,
        allow_private_networks=True,
        timeout=5.0,
        max_bytes=256 * 1024,
    )
    fetcher = Fetcher(policy, concurrency=16, clock=clock)
    (tmp_path / "recordings").mkdir(exist_ok=True)  # the store never creates `recordings`
    store = ImageStore(tmp_path / "recordings" / ".images")
    transferer = Transferer(
        fetcher=fetcher,
        store=store,
        state=state,
        clock=clock,
        retry=RETRY,
        concurrency=concurrency,
    )
    return Rig(fake, fetcher, store, state, clock, transferer)


@pytest.fixture
def rig(
    fake_twitch: FakeTwitch, tmp_path: Path, state: State, fake_clock: FakeClock
) -> Iterator[Rig]:
    made = make_rig(fake_twitch, tmp_path, state, fake_clock)
    yield made
    made.fetcher.close()


def is_real_jpeg(path: Path) -> bool:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return sniff(data) == "jpeg" and image.format == "JPEG"


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# -- storing -----------------------------------------------------------------------------


def test_stores_every_format_as_jpeg(rig: Rig) -> None:
    users = [ALICE_ID, BOB_ID, CHLOE_ID, DANA_ID]  # PNG, JPEG, WebP, animated GIF
    jobs = [(rig.profile_task(uid), Action.FETCH, None) for uid in users]
    progress: list[tuple[int, int]] = []
    totals = rig.transferer.run(jobs, lambda done, total: progress.append((done, total)))
    assert sorted(totals.stored) == sorted(profile_rel(uid) for uid in users)
    assert (totals.unchanged, totals.failed, totals.errors) == (0, 0, {})
    assert progress == [(n, 4) for n in range(1, 5)]
    sizes = 0
    for uid in users:
        path = rig.store.root / profile_rel(uid)
        assert is_real_jpeg(path)
        assert path.stat().st_mode & 0o777 == 0o644
        row = rig.state.images.get(profile_rel(uid))
        assert row is not None and row.cached and row.failures == 0
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row.size == path.stat().st_size
        assert row.source == rig.fake.url_for("profile", uid)
        assert row.etag is not None and row.last_success == rig.clock.now
        sizes += row.size
    assert totals.bytes == sizes
    assert rig.fetcher.downloads == 4


def test_jpeg_source_is_stored_byte_for_byte(rig: Rig) -> None:
    original = make_jpeg(40, 30, seed=5)
    rig.fake.set_image("/cdn/custom/x.jpg", original)
    task = ImageTask(
        "categories/x.jpg", ImageKind.CATEGORY, "X", url=f"{rig.fake.base_url}/cdn/custom/x.jpg"
    )
    assert rig.transferer.one(task, Action.FETCH, None) == (Outcome.STORED, len(original), None)
    assert (rig.store.root / "categories/x.jpg").read_bytes() == original


def test_empty_job_list(rig: Rig) -> None:
    totals = rig.transferer.run([])
    assert (totals.stored, totals.unchanged, totals.failed) == ([], 0, 0)


# -- failures and backoff ------------------------------------------------------------------


def test_html_page_fails_with_backoff_and_no_file(rig: Rig) -> None:
    task = rig.profile_task(ALICE_ID)
    rig.fake.serve_html_for(task.url or "")
    outcome, size, error = rig.transferer.one(task, Action.FETCH, None)
    assert (outcome, size) == (Outcome.FAILED, 0)
    assert error is not None and "invalid image" in error and "HTML" in error
    row = rig.state.images.get(task.rel)
    assert row is not None and not row.cached
    assert (row.failures, row.next_retry, row.error_status) == (1, rig.clock.now + 60, None)
    assert row.last_error == error
    assert not (rig.store.root / task.rel).exists()
    assert files_under(rig.store.root) == [] if rig.store.root.exists() else True

    rig.clock.advance(61)
    outcome, _, _ = rig.transferer.one(task, Action.FETCH, rig.state.images.get(task.rel))
    assert outcome is Outcome.FAILED
    row = rig.state.images.get(task.rel)
    assert row is not None
    assert (row.failures, row.next_retry) == (2, rig.clock.now + 120)


def test_run_reports_errors_per_rel(rig: Rig) -> None:
    bad = rig.profile_task(ALICE_ID)
    rig.fake.serve_html_for(bad.url or "")
    good = rig.profile_task(BOB_ID)
    totals = rig.transferer.run([(bad, Action.FETCH, None), (good, Action.FETCH, None)])
    assert totals.stored == [good.rel]
    assert totals.failed == 1 and set(totals.errors) == {bad.rel}


def test_404_retries_at_the_cap(rig: Rig) -> None:
    task = rig.profile_task("99999999")  # the CDN does not know this user
    outcome, _, error = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.FAILED and error is not None and "404" in error
    row = rig.state.images.get(task.rel)
    assert row is not None
    assert (row.failures, row.error_status, row.next_retry) == (1, 404, rig.clock.now + 86_400)


def test_cdn_500_backs_off_from_initial(rig: Rig) -> None:
    rig.fake.fail("cdn", 500)
    task = rig.profile_task(ALICE_ID)
    assert rig.transferer.one(task, Action.FETCH, None)[0] is Outcome.FAILED
    row = rig.state.images.get(task.rel)
    assert row is not None and (row.error_status, row.next_retry) == (500, rig.clock.now + 60)


def test_disallowed_host_fails_without_a_request(rig: Rig) -> None:
    task = ImageTask(
        "categories/evil.jpg", ImageKind.CATEGORY, "Evil", url="http://169.254.169.254/x.jpg"
    )
    outcome, _, error = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.FAILED and error is not None and "allowed_hosts" in error
    assert rig.fake.hits["cdn"] == 0


def test_oversized_body_fails(rig: Rig) -> None:
    big = make_png(600, 600, seed=3) + b"\x00" * (300 * 1024)
    rig.fake.set_image("/cdn/custom/big.png", big, "image/png")
    task = ImageTask(
        "categories/big.jpg",
        ImageKind.CATEGORY,
        "Big",
        url=f"{rig.fake.base_url}/cdn/custom/big.png",
    )
    outcome, _, error = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.FAILED and error is not None and "bytes" in error
    assert not (rig.store.root / "categories/big.jpg").exists()


# -- refresh -------------------------------------------------------------------------------


def test_revalidate_with_etag_costs_a_304_and_no_bytes(rig: Rig) -> None:
    task = rig.profile_task(BOB_ID)
    assert rig.transferer.one(task, Action.FETCH, None)[0] is Outcome.STORED
    path = rig.store.root / task.rel
    before = (path.stat().st_ino, path.stat().st_mtime_ns)
    served = rig.fake.bytes_served
    rig.clock.advance(700_000)
    row = rig.state.images.get(task.rel)
    assert row is not None and row.etag
    assert rig.transferer.one(task, Action.REVALIDATE, row) == (Outcome.UNCHANGED, 0, None)
    assert rig.fake.hits["cdn_304"] == 1
    assert rig.fake.bytes_served == served
    assert rig.fetcher.downloads == 1
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before
    fresh = rig.state.images.get(task.rel)
    assert fresh is not None and fresh.last_success == rig.clock.now and fresh.cached


def test_fetch_is_unconditional(rig: Rig) -> None:
    task = rig.profile_task(BOB_ID)
    rig.transferer.one(task, Action.FETCH, None)
    rig.transferer.one(task, Action.FETCH, rig.state.images.get(task.rel))
    assert rig.fake.hits["cdn_304"] == 0 and rig.fetcher.downloads == 2


def test_same_bytes_again_do_not_rewrite_the_file(rig: Rig) -> None:
    task = rig.profile_task(ALICE_ID)  # PNG: converted, so this also checks stable encoding
    rig.transferer.one(task, Action.FETCH, None)
    path = rig.store.root / task.rel
    before = (path.stat().st_ino, path.stat().st_mtime_ns)
    rig.clock.advance(10)
    assert rig.transferer.one(task, Action.FETCH, rig.state.images.get(task.rel)) == (
        Outcome.UNCHANGED,
        0,
        None,
    )
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before
    row = rig.state.images.get(task.rel)
    assert row is not None and row.last_success == rig.clock.now


def test_state_lost_but_identical_file_present_is_not_rewritten(rig: Rig, tmp_path: Path) -> None:
    task = rig.profile_task(BOB_ID)
    rig.transferer.one(task, Action.FETCH, None)
    path = rig.store.root / task.rel
    before = path.stat().st_ino
    rig.state.images.forget(task.rel)
    assert rig.transferer.one(task, Action.FETCH, None)[0] is Outcome.UNCHANGED
    assert path.stat().st_ino == before
    row = rig.state.images.get(task.rel)
    assert row is not None and row.cached


def test_changed_bytes_replace_the_file(rig: Rig) -> None:
    task = rig.profile_task(BOB_ID)
    rig.transferer.one(task, Action.FETCH, None)
    new = make_jpeg(50, 50, seed=99)
    rig.fake.set_image(task.url or "", new)
    row = rig.state.images.get(task.rel)
    assert rig.transferer.one(task, Action.REVALIDATE, row) == (Outcome.STORED, len(new), None)
    assert (rig.store.root / task.rel).read_bytes() == new
    updated = rig.state.images.get(task.rel)
    assert updated is not None and updated.sha256 == hashlib.sha256(new).hexdigest()


def test_new_url_that_fails_keeps_backoff_and_is_fetched_later(rig: Rig) -> None:
    old_task = rig.profile_task(BOB_ID)
    rig.transferer.one(old_task, Action.FETCH, None)
    new_url = rig.fake.url_for("profile", ALICE_ID)
    new_task = ImageTask(old_task.rel, ImageKind.PROFILE, BOB_ID, url=new_url)

    def plan() -> Action:
        return decide(
            new_task,
            rig.state.images.get(new_task.rel),
            file_present=rig.store.exists(new_task.rel),
            now=rig.clock.now,
            refresh_interval=604_800,
        )

    assert plan() is Action.FETCH
    rig.fake.fail("cdn", 500)
    assert rig.transferer.one(new_task, Action.FETCH, rig.state.images.get(new_task.rel))[0] is (
        Outcome.FAILED
    )
    rig.clock.advance(30)
    assert plan() is Action.SKIP  # backoff
    rig.clock.advance(31)
    assert plan() is Action.FETCH  # not a week later
    assert rig.transferer.one(new_task, plan(), rig.state.images.get(new_task.rel))[0] is (
        Outcome.STORED
    )
    row = rig.state.images.get(new_task.rel)
    assert row is not None and row.source == new_url and row.failures == 0


# -- full disk -----------------------------------------------------------------------------


def _cached_then_changed(rig: Rig) -> tuple[ImageTask, bytes]:
    task = rig.profile_task(BOB_ID)
    rig.transferer.one(task, Action.FETCH, None)
    old = (rig.store.root / task.rel).read_bytes()
    rig.fake.set_image(task.url or "", make_jpeg(50, 50, seed=42))
    return task, old


def test_disk_full_store_fails_and_keeps_old_file(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    task, old = _cached_then_changed(rig)

    def full(self: ImageStore, rel: str, jpeg: bytes) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ImageStore, "store", full)
    outcome, _, error = rig.transferer.one(task, Action.FETCH, rig.state.images.get(task.rel))
    assert outcome is Outcome.FAILED
    assert error is not None and "No space left on device" in error
    assert (rig.store.root / task.rel).read_bytes() == old
    row = rig.state.images.get(task.rel)
    assert row is not None and row.cached and row.failures == 1
    assert row.sha256 == hashlib.sha256(old).hexdigest()


def test_disk_full_at_rename_leaves_no_temp_file(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    task, old = _cached_then_changed(rig)

    def full(src: object, dst: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    outcome, _, error = rig.transferer.one(task, Action.FETCH, rig.state.images.get(task.rel))
    monkeypatch.undo()
    assert outcome is Outcome.FAILED and error is not None and "No space left" in error
    folder = (rig.store.root / task.rel).parent
    assert sorted(p.name for p in folder.iterdir()) == [Path(task.rel).name]
    assert (rig.store.root / task.rel).read_bytes() == old


# -- hostile names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rel",
    ["../x.jpg", "profiles/../../x.jpg", "/tmp/x.jpg", "profiles/\x00.jpg", "profiles/.x.jpg", ""],
)
def test_hostile_rel_fails_cleanly_without_writing_outside(
    rig: Rig, tmp_path: Path, rel: str
) -> None:
    before = files_under(tmp_path)
    task = ImageTask(rel, ImageKind.PROFILE, "1", url=rig.fake.url_for("profile", BOB_ID))
    outcome, _, error = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.FAILED and error
    after = [f for f in files_under(tmp_path) if not f.startswith("state/")]
    assert after == [f for f in before if not f.startswith("state/")]
    assert not (tmp_path / "recordings" / "x.jpg").exists()
    assert not (tmp_path / "x.jpg").exists()


def test_symlinked_cache_folder_is_not_followed(rig: Rig, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rig.store.root.mkdir(parents=True)
    (rig.store.root / "profiles").symlink_to(outside)
    outcome, _, _ = rig.transferer.one(rig.profile_task(BOB_ID), Action.FETCH, None)
    assert outcome is Outcome.FAILED
    assert list(outside.iterdir()) == []


# -- local imports -------------------------------------------------------------------------


def test_local_png_is_imported_as_jpeg(rig: Rig, tmp_path: Path) -> None:
    thumb = tmp_path / "recordings" / "alice" / "x-thumb.png"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(make_png(32, 18, seed=1))
    rel = artwork_rel(ALICE_ID, "40000000001")
    task = ImageTask(
        rel, ImageKind.ARTWORK, f"{ALICE_ID}/40000000001", local=thumb, local_stamp="local-1-2"
    )
    outcome, size, _ = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.STORED and size > 0
    assert is_real_jpeg(rig.store.root / rel)
    row = rig.state.images.get(rel)
    assert (
        row is not None
        and row.origin is Origin.LOCAL
        and row.source == str(thumb)
        and row.etag == "local-1-2"
    )
    assert rig.fake.hits["cdn"] == 0
    rig.state.images.forget(rel)  # state lost, same file: nothing is rewritten
    ino = (rig.store.root / rel).stat().st_ino
    assert rig.transferer.one(task, Action.FETCH, None)[0] is Outcome.UNCHANGED
    assert (rig.store.root / rel).stat().st_ino == ino


def test_local_symlink_source_is_refused(rig: Rig, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(make_jpeg(8, 8))
    link = tmp_path / "x-thumb.jpg"
    link.symlink_to(secret)
    rel = artwork_rel(ALICE_ID, "1")
    task = ImageTask(rel, ImageKind.ARTWORK, f"{ALICE_ID}/1", local=link)
    assert rig.transferer.one(task, Action.FETCH, None)[0] is Outcome.FAILED
    assert not (rig.store.root / rel).exists()


def test_local_html_thumb_fails(rig: Rig, tmp_path: Path) -> None:
    thumb = rig.store.anchor / "x-thumb.jpg"
    thumb.write_bytes(b"<html>nope</html>")
    rel = artwork_rel(ALICE_ID, "2")
    task = ImageTask(rel, ImageKind.ARTWORK, f"{ALICE_ID}/2", local=thumb)
    outcome, _, error = rig.transferer.one(task, Action.FETCH, None)
    assert outcome is Outcome.FAILED and error is not None and "invalid image" in error
    row = rig.state.images.get(rel)
    assert row is not None and row.next_retry == rig.clock.now + 60


# -- concurrency ---------------------------------------------------------------------------


class InFlight:
    """Counts requests the fake server is handling at the same time."""

    def __init__(self, fake: FakeTwitch) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self._inner = fake.handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self._inner(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_at_most_concurrency_transfers_at_once(
    tmp_path: Path, state: State, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeTwitch(latency=0.05) as fake:
        sample_library(fake)
        for n in range(16):
            fake.set_image(f"/cdn/many/{n}.jpg", make_jpeg(16, 16, seed=n))
        counter = InFlight(fake)
        monkeypatch.setattr(fake, "handle", counter)
        made = make_rig(fake, tmp_path, state, fake_clock, concurrency=4)
        jobs = [
            (
                ImageTask(
                    f"categories/c{n}.jpg",
                    ImageKind.CATEGORY,
                    f"C{n}",
                    url=f"{fake.base_url}/cdn/many/{n}.jpg",
                ),
                Action.FETCH,
                None,
            )
            for n in range(16)
        ]
        totals = made.transferer.run(jobs)
        made.fetcher.close()
    assert len(totals.stored) == 16 and totals.failed == 0
    assert 2 <= counter.peak <= 4
