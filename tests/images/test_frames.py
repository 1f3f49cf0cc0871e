"""Artwork grabbed from the recording with ffmpeg (artwork.ffmpeg: true)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import InvalidImageError
from svimaged.images import frames
from svimaged.images.codec import sniff
from svimaged.pipeline import Pipeline
from svimaged.pipeline.resources import build_resources

needs_ffmpeg = pytest.mark.skipif(
    not (shutil.which("ffmpeg") and shutil.which("ffprobe")),
    reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)",
)

USER_ID = "10000001"


def make_video(path: Path) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=160x90:rate=10",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )


def tree_with_video(root: Path, clock: FakeClock) -> Path:
    folder = root / "alice_plays"
    folder.mkdir(parents=True)
    (folder / "tvshow.nfo").write_text(
        f'<tvshow><uniqueid type="twitch">{USER_ID}</uniqueid></tvshow>'
    )
    video = folder / "alice_plays - S202611E01 - Test pattern.mp4"
    make_video(video)
    os.utime(video, (clock.time() - 3600,) * 2)
    return video


def engine_for(tmp_path: Path, clock: FakeClock, *, ffmpeg: bool) -> Pipeline:
    data = {
        "recordings": str(tmp_path / "rec"),
        "state_dir": str(tmp_path / "state"),
        "artwork": {"ffmpeg": ffmpeg},
    }
    return Pipeline(build_resources(parse_config(data, {}), clock))


@needs_ffmpeg
def test_frame_at_ten_percent_becomes_the_artwork_once(tmp_path: Path) -> None:
    clock = FakeClock(start=time.time())
    video = tree_with_video(tmp_path / "rec", clock)
    engine = engine_for(tmp_path, clock, ffmpeg=True)
    try:
        first = engine.full_pass()
        arts = list((tmp_path / "rec" / ".images" / "artwork" / USER_ID).glob("stream_*.jpg"))
        assert len(arts) == 1 and first.cached == [str(arts[0])]
        assert sniff(arts[0].read_bytes()) == "jpeg"
        assert str(arts[0]) in video.with_suffix(".nfo").read_text()
        inode = arts[0].stat().st_ino
        second = engine.full_pass()
        assert second.cached == [] and arts[0].stat().st_ino == inode
    finally:
        engine.close()


@needs_ffmpeg
def test_broken_video_is_a_clean_failure(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InvalidImageError, match="ffprobe"):
        frames.grab_frame(bad)


def test_no_grab_without_the_option(tmp_path: Path) -> None:
    clock = FakeClock(start=time.time())
    folder = tmp_path / "rec" / "alice_plays"
    folder.mkdir(parents=True)
    (folder / "tvshow.nfo").write_text(
        f'<tvshow><uniqueid type="twitch">{USER_ID}</uniqueid></tvshow>'
    )
    video = folder / "alice_plays - S202611E01 - x.mp4"
    video.write_bytes(b"x")
    os.utime(video, (clock.time() - 3600,) * 2)
    engine = engine_for(tmp_path, clock, ffmpeg=False)
    try:
        assert engine.full_pass().cached == []
    finally:
        engine.close()


def test_missing_ffmpeg_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(frames.shutil, "which", lambda _name: None)
    monkeypatch.setattr(frames, "_missing_logged", frames.threading.Event())
    with caplog.at_level(logging.WARNING):
        assert not frames.ffmpeg_available()
        assert not frames.ffmpeg_available()
    assert len([r for r in caplog.records if "ffmpeg" in r.getMessage()]) == 1
