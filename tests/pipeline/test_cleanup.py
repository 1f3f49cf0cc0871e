"""Orphan cleanup: the pure decision table, and whole runs over a real cache."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import IncompleteScanError
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, BOB_ID, FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.images.cleanup import CacheFile, decide, kind_of, list_cache
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

NOW = 1_800_000_000.0


def f(rel: str, *, size: int = 10, age: float = 7200, regular: bool = True) -> CacheFile:
    return CacheFile(rel, size, NOW - age, regular)


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("profiles/profile_avatar_123.jpg", "profile"),
        ("categories/just_chatting.jpg", "category"),
        ("artwork/123/stream_456.jpg", "artwork"),
        ("artwork/123/stream_v45-6_x.jpg", "artwork"),
        ("artwork/streamer_7/stream_1.jpg", None),  # StreamVault's seed layout
        ("profiles/avatar_123.jpg", None),
        ("profiles/profile_avatar_123.png", None),
        ("profiles/sub/profile_avatar_123.jpg", None),
        ("categories/Just_Chatting.jpg", None),
        ("categories/a.b.jpg", None),
        ("artwork/stream_456.jpg", None),
        ("artwork/12 3/stream_456.jpg", None),
        ("artwork/123/poster.jpg", None),
        ("banners/123.jpg", None),
        ("notes.txt", None),
        ("profile_avatar_123.jpg", None),
    ],
)
def test_only_spec_names_are_ours(rel: str, kind: str | None) -> None:
    assert kind_of(rel) == kind


def test_decide_table() -> None:
    files = [
        f("profiles/profile_avatar_1.jpg"),  # referenced
        f("profiles/profile_avatar_2.jpg", size=100),  # orphan
        f("categories/just_chatting.jpg"),  # referenced
        f("categories/old_game.jpg", size=50),  # orphan
        f("artwork/1/stream_9.jpg"),  # referenced
        f("artwork/1/stream_8.jpg", size=7),  # orphan
        f("artwork/1/.stream_7.jpg.svimaged-tmp-abc123", age=7200),  # our old temp: delete
        f("artwork/1/.stream_6.jpg.svimaged-tmp-abc124", age=10),  # in-progress temp: keep
        f("profiles/my_own_picture.jpg"),  # foreign
        f("README.txt"),  # foreign
        f("profiles/profile_avatar_3.jpg", regular=False),  # a link: foreign, never followed
    ]
    referenced = {
        "profiles/profile_avatar_1.jpg",
        "categories/just_chatting.jpg",
        "artwork/1/stream_9.jpg",
    }
    created = {i.rel for i in files}
    files.append(f("profiles/profile_avatar_4.jpg"))  # our name, but no record: not ours
    plan = decide(files, referenced, created=created, now=NOW)
    assert [i.rel for i in plan.profiles] == ["profiles/profile_avatar_2.jpg"]
    assert [i.rel for i in plan.categories] == ["categories/old_game.jpg"]
    assert [i.rel for i in plan.artwork] == ["artwork/1/stream_8.jpg"]
    assert [i.rel for i in plan.temporary] == ["artwork/1/.stream_7.jpg.svimaged-tmp-abc123"]
    assert sorted(plan.foreign) == [
        "README.txt",
        "profiles/my_own_picture.jpg",
        "profiles/profile_avatar_3.jpg",
        "profiles/profile_avatar_4.jpg",
    ]
    assert plan.kept == 4


def test_decide_with_everything_referenced_deletes_nothing() -> None:
    files = [f("profiles/profile_avatar_1.jpg"), f("artwork/1/stream_2.jpg")]
    plan = decide(files, {i.rel for i in files}, created={i.rel for i in files}, now=NOW)
    assert plan.deletions == []


def test_list_cache_never_follows_links(tmp_path: Path) -> None:
    root = tmp_path / ".images"
    (root / "profiles").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "profile_avatar_9.jpg").write_bytes(b"precious")
    (root / "artwork").symlink_to(outside)
    (root / "profiles" / "profile_avatar_1.jpg").write_bytes(b"x")
    listed = {c.rel: c.regular for c in list_cache(root)}
    assert listed == {"artwork": False, "profiles/profile_avatar_1.jpg": True}


# -- whole runs -------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path, fake: FakeTwitch) -> Iterator[Pipeline]:
    clock = FakeClock(start=time.time())
    build_demo_tree(tmp_path / "rec", fake, now=clock.time())
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    eng = Pipeline(build_resources(parse_config(data, {}), clock))
    eng.full_pass()
    yield eng
    eng.close()


def cache_files(root: Path) -> set[str]:
    return {c.rel for c in list_cache(root / ".images")}


def test_nothing_to_clean_after_a_pass(engine: Pipeline, tmp_path: Path) -> None:
    before = cache_files(tmp_path / "rec")
    result = engine.cleanup(dry_run=False)
    assert result["total_cleaned"] == 0 and result["bytes_freed"] == 0
    assert cache_files(tmp_path / "rec") == before


def test_removed_streamer_and_recording_are_cleaned_dry_run_first(
    engine: Pipeline, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    shutil.rmtree(rec / "Bob Speedruns")
    e1 = rec / "Alice Plays/Season 2026-11/alice_plays - S202611E01 - Morning coffee & chat.mp4"
    e1.unlink()
    foreign = rec / ".images" / "profiles" / "holiday.jpg"
    foreign.write_bytes(b"mine")
    lookalike = rec / ".images" / "profiles" / "profile_avatar_55555.jpg"  # copied in by hand
    lookalike.write_bytes(b"not from svimaged")
    before = cache_files(rec)
    dry = engine.cleanup(dry_run=True)
    assert cache_files(rec) == before  # a dry run deletes nothing
    expected = {
        f"profiles/profile_avatar_{BOB_ID}.jpg",
        f"artwork/{BOB_ID}/stream_40000000004.jpg",
        f"artwork/{ALICE_ID}/stream_40000000001.jpg",
    }
    assert set(dry["files"]) == expected  # type: ignore[arg-type]
    assert dry["foreign"] == ["profiles/holiday.jpg", "profiles/profile_avatar_55555.jpg"]
    real = engine.cleanup(dry_run=False)
    assert set(real["files"]) == expected  # type: ignore[arg-type]
    assert real["profiles_cleaned"] == 1 and real["artwork_cleaned"] == 2
    assert real["categories_cleaned"] == 0  # Just Chatting is still used by dana's recording
    assert real["bytes_freed"] == dry["bytes_freed"] > 0
    assert cache_files(rec) == before - expected
    assert foreign.read_bytes() == b"mine"
    assert lookalike.read_bytes() == b"not from svimaged"
    assert not (rec / ".images" / "artwork" / BOB_ID).exists()
    assert engine.res.state.images.get(f"profiles/profile_avatar_{BOB_ID}.jpg") is None


def test_category_used_by_one_remaining_recording_stays(engine: Pipeline, tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    (rec / "Alice Plays/Season 2026-11/alice_plays - S202611E02 - Ranked grind.mp4").unlink()
    result = engine.cleanup(dry_run=False)
    assert "categories/league_of_legends.jpg" in result["files"]  # type: ignore[operator]
    assert (rec / ".images/categories/just_chatting.jpg").is_file()


def test_cleanup_refuses_after_an_incomplete_scan(
    engine: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = tmp_path / "rec"
    shutil.rmtree(rec / "Bob Speedruns")
    real_open = os.open

    def flaky(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECTORY and str(path).endswith("Season 2026-11"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", flaky)  # the scan opens each folder it lists
    before = cache_files(rec)
    with pytest.raises(IncompleteScanError):
        engine.cleanup(dry_run=False)
    monkeypatch.undo()
    assert cache_files(rec) == before


def test_symlink_in_cache_pointing_out_is_never_followed_or_deleted(
    engine: Pipeline, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "stream_1.jpg").write_bytes(b"keep me")
    (rec / ".images" / "artwork" / "99999").symlink_to(outside)
    result = engine.cleanup(dry_run=False)
    assert "artwork/99999" in result["foreign"]  # type: ignore[operator]
    assert (outside / "stream_1.jpg").read_bytes() == b"keep me"
