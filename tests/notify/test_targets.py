"""Which server items the rewritten files of a batch belong to (pure)."""

from __future__ import annotations

from svimaged.notify.changes import FolderBatch
from svimaged.notify.targets import Item, ItemKind, needs_children, plan_refresh

SHOW = "/data/tv/Alice Plays"
SEASON = f"{SHOW}/Season 2026-11"
SERIES = Item("s1", SHOW + "/", ItemKind.SHOW)
CHILDREN = [
    Item("se1", SEASON, ItemKind.SEASON),
    Item("e1", f"{SEASON}/alice - S202611E01 - a.mp4", ItemKind.EPISODE),
    Item("e2", f"{SEASON}/alice - S202611E02 - b.mkv", ItemKind.EPISODE),
]


def batch(*modified: str, created: tuple[str, ...] = ()) -> FolderBatch:
    return FolderBatch(SHOW, frozenset(created), frozenset(modified))


def test_episode_files_are_matched_by_stem_whatever_the_suffix() -> None:
    plan = plan_refresh(
        batch(f"{SEASON}/alice - S202611E02 - b.nfo", f"{SEASON}/alice - S202611E02 - b.jpg"),
        SERIES,
        CHILDREN,
    )
    assert [i.id for i in plan.refresh] == ["e2"] and plan.unmatched == () and not plan.deep


def test_season_files_belong_to_the_season_and_unknown_files_to_nobody() -> None:
    new = f"{SEASON}/alice - S202611E03 - c.nfo"
    plan = plan_refresh(batch(f"{SEASON}/season.nfo", f"{SEASON}/cover.jpg", new), SERIES, CHILDREN)
    assert [i.id for i in plan.refresh] == ["se1"]
    assert plan.unmatched == (new,)


def test_a_show_file_refreshes_the_show_and_the_matched_episodes() -> None:
    files = (f"{SHOW}/tvshow.nfo", f"{SEASON}/alice - S202611E01 - a.nfo")
    plan = plan_refresh(batch(*files), SERIES, CHILDREN)
    assert {i.id for i in plan.refresh} == {"s1", "e1"} and not plan.deep
    assert needs_children(batch(*files))
    assert not needs_children(batch(f"{SHOW}/tvshow.nfo"))


def test_an_unknown_show_leaves_everything_to_a_scan() -> None:
    plan = plan_refresh(batch(f"{SHOW}/tvshow.nfo"), None, [])
    assert plan.refresh == () and plan.unmatched == (f"{SHOW}/tvshow.nfo",)


def test_overflow_or_too_many_items_refresh_the_show_deeply() -> None:
    overflow = FolderBatch(SHOW, overflow=True)
    assert plan_refresh(overflow, SERIES, CHILDREN).refresh == (SERIES,)
    assert plan_refresh(overflow, SERIES, CHILDREN).deep
    assert not needs_children(overflow)
    files = (f"{SEASON}/alice - S202611E01 - a.nfo", f"{SEASON}/alice - S202611E02 - b.nfo")
    plan = plan_refresh(batch(*files), SERIES, CHILDREN, limit=1)
    assert plan.refresh == (SERIES,) and plan.deep
