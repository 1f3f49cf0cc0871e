"""Tests for svimaged.pipeline.views: the pure view of a streamer folder that the outputs get,
with references resolved after the transfers."""

from __future__ import annotations

from pathlib import Path

from svimaged.config import NfoConfig, PathMapEntry
from svimaged.core.model import (
    ImageKind,
    RecordingFiles,
    RecordingMeta,
    ShowMeta,
    StreamerFolder,
)
from svimaged.images.tasks import ImageTask
from svimaged.nfo.model import SeasonThumb
from svimaged.pipeline.items import RecordingItem, StreamerItem
from svimaged.pipeline.views import Refs, show_view

ROOT = Path("/recordings/.images")
NFO = NfoConfig(path_map=(PathMapEntry("/recordings", "/data/tv"),), season_poster="category")
PROFILE = ImageTask("profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1", url="https://p/1.png")
BOX = ImageTask("categories/minecraft.jpg", ImageKind.CATEGORY, "Minecraft", url="https://b/m.jpg")


def files(stem: str, folder: Path) -> RecordingFiles:
    return RecordingFiles(
        video=folder / f"{stem}.mp4", rel=f"alice/{stem}.mp4", streamer_folder="alice",
        stem=stem, size=1, mtime_ns=1,
    )  # fmt: skip


def test_refs_are_mapped_paths_once_cached_else_https_urls() -> None:
    refs = Refs(ROOT, frozenset({PROFILE.rel}), NFO)
    assert refs.of(PROFILE) == "/data/tv/.images/profiles/profile_avatar_1.jpg"
    assert refs.of(BOX) == "https://b/m.jpg"
    assert refs.of(BOX, "https://other/x.jpg") == "https://other/x.jpg"
    assert refs.of(None, "http://insecure/x.jpg") is None
    assert refs.of(None) is None


def test_show_view_has_finished_episodes_and_season_art_of_the_whole_folder() -> None:
    folder = Path("/recordings/alice")
    done = files("alice - S202611E01 - a", folder)
    live = files("alice - S202611E02 - b", folder)
    older = files("alice - S202610E01 - c", folder)  # not read in this pass
    streamer = StreamerFolder("alice", folder, None, (done, live, older))
    item = StreamerItem(
        folder=streamer,
        show=ShowMeta(),
        recordings=[
            RecordingItem(done, RecordingMeta(title="a", category_name="Just Chatting"), True),
            RecordingItem(live, RecordingMeta(title="b"), False),
        ],
        user_id="1",
        display_name="Alice",
        profile_url=PROFILE.url,
        profile=PROFILE,
    )
    refs = Refs(ROOT, frozenset({PROFILE.rel, BOX.rel}), NFO)
    view = show_view(
        item, refs, {"Minecraft": BOX, "Just Chatting": None}, {older.rel: "Minecraft"}
    )
    assert [e.files for e in view.episodes] == [done]
    poster = "/data/tv/.images/profiles/profile_avatar_1.jpg"
    assert view.info.poster == poster and view.poster_rel == PROFILE.rel
    assert view.info.season_thumbs == (
        SeasonThumb(202610, "/data/tv/.images/categories/minecraft.jpg"),
        SeasonThumb(202611, poster),  # Just Chatting has no box art: the show poster
    )
    episode = view.episodes[0]
    assert episode.info.genre == "Just Chatting" and episode.thumb_rel is None
