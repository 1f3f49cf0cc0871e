"""Tests for svimaged.pipeline.views: the pure view of a streamer folder that the outputs get,
with references resolved after the transfers."""

from __future__ import annotations

from pathlib import Path

from svimaged.config import NfoConfig, PathMapEntry
from svimaged.core.model import (
    ImageKind,
    RecordingFiles,
    RecordingMeta,
    RecordingRow,
    ShowMeta,
    StreamerFolder,
)
from svimaged.images.tasks import ImageTask
from svimaged.nfo.model import SeasonThumb
from svimaged.outputs.base import ShowView
from svimaged.pipeline.items import RecordingItem, StreamerItem
from svimaged.pipeline.views import Refs, show_view

ROOT = Path("/recordings/.images")
NFO = NfoConfig(path_map=(PathMapEntry("/recordings", "/data/tv"),), season_poster="category")
PROFILE = ImageTask("profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", url="https://p/1.png")
BOX = ImageTask("categories/minecraft.jpg", ImageKind.CATEGORY, "Minecraft", url="https://b/m.jpg")


def files(stem: str, folder: Path) -> RecordingFiles:
    return RecordingFiles(
        video=str(folder / f"{stem}.mp4"),
        rel=(folder / f"{stem}.mp4").relative_to("/recordings").as_posix(),
        streamer_folder="alice",
        stem=stem, size=1, mtime_ns=1,
    )  # fmt: skip


def test_refs_are_mapped_paths_once_cached_else_https_urls() -> None:
    refs = Refs(ROOT, frozenset({PROFILE.rel}), NFO)
    assert refs.of(PROFILE) == "/data/tv/.images/profiles/profile_avatar_1.jpg"
    assert refs.of(BOX) == "https://b/m.jpg"
    assert refs.of(BOX, "https://other/x.jpg") == "https://other/x.jpg"
    assert refs.of(None, "http://insecure/x.jpg") is None
    assert refs.of(None) is None


NOW = 2_000_000_000.0
CHAT = "Just Chatting"


def item_with_seasons() -> tuple[StreamerItem, dict[str, RecordingFiles]]:
    folder = Path("/recordings/alice")
    nov, oct_, dec = (folder / f"Season 2026-{m}" for m in ("11", "10", "12"))
    recs = {
        "done": files("alice - S202611E01 - a", nov),
        "live": files("alice - S202611E02 - b", nov)._replace(mtime_ns=int(NOW * 1e9)),
        "older": files("alice - S202610E01 - c", oct_),  # not read in this pass
        "only_live": files("alice - S202612E01 - d", dec)._replace(mtime_ns=int(NOW * 1e9)),
    }
    streamer = StreamerFolder("alice", folder, None, tuple(recs.values()))
    item = StreamerItem(
        folder=streamer,
        show=ShowMeta(),
        recordings=[
            RecordingItem(recs["done"], RecordingMeta(category_name=CHAT, season=202611), True),
            RecordingItem(recs["live"], RecordingMeta(title="b", season=202611), False),
        ],
        user_id="1",
        display_name="Alice",
        profile_url=PROFILE.url,
        profile=PROFILE,
    )  # fmt: skip
    return item, recs


def view_of(item: StreamerItem, refs: Refs) -> ShowView:
    boxes = {"Minecraft": BOX, "Just Chatting": None}
    rel = "alice/Season 2026-10/alice - S202610E01 - c.mp4"
    item.rows = {rel: RecordingRow(rel, "alice", 1, 1, "1", None, "Minecraft", None, season=202610)}
    return show_view(item, refs, boxes, now=NOW, settle_seconds=5.0)


def test_show_view_has_finished_episodes_and_season_art_of_finished_seasons() -> None:
    item, recs = item_with_seasons()
    view = view_of(item, Refs(ROOT, frozenset({PROFILE.rel, BOX.rel}), NFO))
    assert [e.files for e in view.episodes] == [recs["done"]]
    poster = "/data/tv/.images/profiles/profile_avatar_1.jpg"
    assert view.info.poster == poster and view.poster_rel == PROFILE.rel
    assert view.info.season_thumbs == (
        SeasonThumb(202610, "/data/tv/.images/categories/minecraft.jpg"),
        SeasonThumb(202611, poster),  # Just Chatting has no box art: the show poster
    )  # no 202612: its only recording is still being written
    assert [(s.path.name, s.info.season, s.info.title) for s in view.seasons] == [
        ("Season 2026-10", 202610, "Season 2026-10"),
        ("Season 2026-11", 202611, "Season 2026-11"),
    ]
    assert view.seasons[0].poster_rel == BOX.rel and view.seasons[1].poster_rel == PROFILE.rel
    episode = view.episodes[0]
    # no artwork, a category without box art: the avatar
    assert episode.info.genre == "Just Chatting" and episode.thumb_rel == PROFILE.rel
    assert episode.info.thumb == poster


def test_season_thumbs_wait_for_a_local_show_poster_where_jellyfin_reads_tvshow_nfo() -> None:
    item, _ = item_with_seasons()
    uncached = Refs(ROOT, frozenset({BOX.rel}), NFO, ("kodi", "jellyfin"))
    assert view_of(item, uncached).info.season_thumbs == ()
    assert view_of(item, uncached).info.poster == PROFILE.url  # the https URL meanwhile
    kodi_only = Refs(ROOT, frozenset({BOX.rel}), NFO, ("kodi",))
    assert len(view_of(item, kodi_only).info.season_thumbs) == 2
    no_kodi = Refs(ROOT, frozenset({PROFILE.rel, BOX.rel}), NFO, ("jellyfin", "plex"))
    assert view_of(item, no_kodi).info.season_thumbs == ()
    assert len(view_of(item, no_kodi).seasons) == 2  # season.nfo and files still come
