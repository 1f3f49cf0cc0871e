"""Tests for svimaged.images.sources: the artwork chain asks its available sources in order
and the first candidate wins; each source answers only for what it knows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from svimaged.core.model import (
    ImageKind,
    ImageRow,
    Origin,
    RecordingFiles,
    RecordingMeta,
    TwitchUser,
)
from svimaged.images.sources import (
    ArtworkChain,
    ArtworkQuery,
    HelixProfile,
    HelixVideoThumbnail,
    InfoJsonProfile,
    InfoJsonThumbnail,
    LocalAvatar,
    LocalThumb,
    ProfileChain,
    ProfileQuery,
    RememberedUrl,
    VideoFrame,
)
from svimaged.images.tasks import ImageTask

VIDEO = Path("/rec/alice/Season 2026-11/alice - S202611E01 - x.mp4")
THUMB = VIDEO.with_name("alice - S202611E01 - x-thumb.jpg")
INFO_URL = "https://static-cdn.jtvnw.net/cf_vods/a/thumb.jpg"
OLD_URL = "https://static-cdn.jtvnw.net/cf_vods/old/thumb.jpg"
HELIX_URL = "https://static-cdn.jtvnw.net/cf_vods/helix/thumb.jpg"
FILES = RecordingFiles(
    video=str(VIDEO),
    rel="alice/Season 2026-11/alice - S202611E01 - x.mp4",
    streamer_folder="alice",
    stem="alice - S202611E01 - x",
    size=100,
    mtime_ns=5,
    thumb=str(THUMB),
)


def remembered(origin: Origin = Origin.URL, cached: bool = True) -> ImageRow:
    return ImageRow(
        rel="artwork/1/stream_9.jpg", kind=ImageKind.ARTWORK, key="1/9", origin=origin,
        source=OLD_URL, etag=None, last_modified=None, sha256="ab", size=1, cached=cached,
        last_success=1.0, last_attempt=1.0, failures=0, next_retry=None, last_error=None,
        error_status=None,
    )  # fmt: skip


def query(
    *, thumb: bool = True, url: str | None = INFO_URL, row: ImageRow | None = None,
    stream_id: str | None = "9",
) -> ArtworkQuery:  # fmt: skip
    files = FILES if thumb else FILES._replace(thumb=None)
    meta = RecordingMeta(thumbnail_url=url, stream_id=stream_id)
    return ArtworkQuery(files, meta, "1", row)


def chain(
    *, ours: set[Path] = frozenset(), online: bool = True, ffmpeg: bool = True
) -> ArtworkChain:  # type: ignore[assignment]
    asked: list[tuple[str, str]] = []

    def thumbnail(user_id: str, stream_id: str) -> str | None:
        asked.append((user_id, stream_id))
        return HELIX_URL if stream_id == "9" else None

    made = ArtworkChain(
        [
            LocalThumb(ours.__contains__, lambda _p: "local-1-2"),
            InfoJsonThumbnail(),
            RememberedUrl(),
            HelixVideoThumbnail(online, thumbnail),
            VideoFrame(ffmpeg),
        ]
    )
    made.asked = asked  # type: ignore[attr-defined]
    return made


def test_the_recordings_own_thumb_comes_first() -> None:
    found = chain().find(query())
    assert found is not None and (found.source, found.local, found.local_stamp) == (
        "local-thumb", THUMB, "local-1-2",
    )  # fmt: skip
    task = found.task("artwork/1/stream_9.jpg", ImageKind.ARTWORK, "1/9")
    assert task.origin is Origin.LOCAL and task.location == str(THUMB)


def test_a_sidecar_svimaged_placed_is_never_a_source() -> None:
    found = chain(ours={THUMB}).find(query())
    assert found is not None and (found.source, found.url) == ("info-json", INFO_URL)


def test_info_json_then_the_remembered_url_then_helix() -> None:
    assert chain().find(query(thumb=False)) is not None
    found = chain().find(query(thumb=False, url=None, row=remembered()))
    assert found is not None and (found.source, found.url) == ("remembered", OLD_URL)
    made = chain()
    found = made.find(query(thumb=False, url=None, row=remembered(Origin.LOCAL)))
    assert found is not None and (found.source, found.url) == ("helix-video", HELIX_URL)
    assert made.asked == [("1", "9")]  # type: ignore[attr-defined]
    found = chain().find(query(thumb=False, url=None, row=remembered(cached=False)))
    assert found is not None and found.source == "helix-video"


def test_helix_is_skipped_offline_and_for_unsafe_stream_ids() -> None:
    made = chain(online=False)
    assert made.names() == ["local-thumb", "info-json", "remembered", "video-frame"]
    found = made.find(query(thumb=False, url=None))
    assert found is not None and found.source == "video-frame"
    made = chain()
    found = made.find(query(thumb=False, url=None, stream_id="../9"))
    assert found is not None and found.source == "video-frame"
    assert made.asked == []  # type: ignore[attr-defined]


def test_the_frame_is_the_last_resort_and_can_be_off() -> None:
    found = chain().find(query(thumb=False, url=None, stream_id="7"))
    assert found is not None and found.grab and found.local == VIDEO
    assert found.local_stamp == ImageTask.stamp(100, 5)
    assert chain(ffmpeg=False).find(query(thumb=False, url=None, stream_id="7")) is None


def test_profile_chain_prefers_helix_then_info_json_then_streamvaults_local_avatar(
    tmp_path: Path,
) -> None:
    profiles = ProfileChain([HelixProfile(), InfoJsonProfile(), LocalAvatar(tmp_path)])
    user = TwitchUser("123456789", "alice", "Alice", "", "https://cdn/helix.png", None)
    metas = [RecordingMeta(), RecordingMeta(profile_image_url="https://cdn/info.png")]
    found = profiles.find(ProfileQuery("123456789", user, metas))
    assert found is not None and (found.source, found.url) == (
        "helix-user",
        "https://cdn/helix.png",
    )
    no_url = dataclasses.replace(user, profile_image_url=None)
    found = profiles.find(ProfileQuery("123456789", no_url, metas))
    assert found is not None and found.url == "https://cdn/info.png"
    assert profiles.find(ProfileQuery("123456789", None, [])) is None
    avatar = tmp_path / ".media" / "profiles" / "profile_avatar_123456789.jpg"
    avatar.parent.mkdir(parents=True)
    avatar.write_bytes(b"\xff\xd8\xff jpeg")
    found = profiles.find(ProfileQuery("123456789", None, []))
    assert found is not None and (found.source, found.local) == ("streamvault-avatar", avatar)
    task = found.task("profiles/profile_avatar_123456789.jpg", ImageKind.PROFILE, "123456789")
    assert task.origin is Origin.LOCAL
    avatar.unlink()
    avatar.symlink_to(tmp_path / "elsewhere.jpg")  # links are never followed
    (tmp_path / "elsewhere.jpg").write_bytes(b"\xff\xd8\xff")
    assert profiles.find(ProfileQuery("123456789", None, [])) is None
