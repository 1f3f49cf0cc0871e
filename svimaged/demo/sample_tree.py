"""Sample recordings trees for the demo, the tests and the benchmarks.

`build_demo_tree` writes a small tree that exercises every metadata source against the fake's
`sample_library`; `generate_tree` writes N StreamVault-style recordings for benchmarks.
Video files are a few bytes of filler: svimaged never reads them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from svimaged.demo.fake_twitch import (
    ALICE_ID,
    BOB_ID,
    CHLOE_ID,
    FakeTwitch,
)
from svimaged.demo.pictures import make_png

VIDEO_FILLER = b"\x00\x00\x00\x18ftypmp42 svimaged sample"


@dataclass(frozen=True, slots=True)
class SampleRecording:
    """One recording of a sample tree."""

    path: str  # relative to the recordings root
    info: dict[str, object] | None = None  # written as <stem>.info.json
    nfo: str | None = None  # an existing episode NFO
    thumb_png: bool = False  # a local <stem>-thumb.png
    recording: bool = False  # still being written (fresh mtime)


def streamvault_info(
    sv_id: int, stream_id: str, login: str, title: str, category: str, started: str
) -> dict[str, object]:
    """An info.json in StreamVault's shape (its own db ids, Twitch's stream id)."""
    return {
        "id": sv_id,
        "twitch_id": stream_id,
        "streamer": {"id": 7, "username": login, "profile_image": None},
        "title": title,
        "category": category,
        "started_at": started,
    }


STREAMVAULT_OLD_NFO = """<?xml version="1.0" encoding="UTF-8"?>
<episodedetails>
  <title>Ranked grind</title>
  <!-- written by StreamVault; svimaged keeps this comment -->
  <plot>Climbing to gold &amp; beyond.</plot>
  <thumb>../../.media/artwork/7/stream_2.jpg</thumb>
  <userrating>9</userrating>
</episodedetails>
"""

CHLOE_TVSHOW = f"""<?xml version="1.0" encoding="UTF-8"?>
<tvshow>
  <title>Chloé Café</title>
  <uniqueid type="twitch" default="true">{CHLOE_ID}</uniqueid>
  <tag>my favourite</tag>
</tvshow>
"""


def demo_recordings(fake: FakeTwitch) -> list[SampleRecording]:
    """The demo tree's recordings; URLs point at `fake`."""
    thumb = fake.url_for("thumbnail", "2000000004")
    return [
        SampleRecording(
            "Alice Plays/Season 2026-11/alice_plays - S202611E01 - Morning coffee & chat.mp4",
            info=streamvault_info(
                1,
                "40000000001",
                "alice_plays",
                "Morning coffee & chat",
                "Just Chatting",
                "2026-11-01T08:00:00Z",
            ),
        ),
        SampleRecording(
            "Alice Plays/Season 2026-11/alice_plays - S202611E02 - Ranked grind.mp4",
            info=streamvault_info(
                2,
                "40000000002",
                "alice_plays",
                "Ranked grind",
                "League of Legends",
                "2026-11-02T18:00:00+00:00",
            ),
            nfo=STREAMVAULT_OLD_NFO,
        ),
        SampleRecording(
            "Alice Plays/Season 2026-11/alice_plays - S202611E03 - Pokemon shiny hunt.mp4",
            info=streamvault_info(
                3,
                "40000000003",
                "alice_plays",
                "Pokémon shiny hunt",
                "Pokémon Scarlet/Violet",
                "2026-11-03T18:00:00Z",
            ),
            thumb_png=True,
        ),
        SampleRecording(
            "Bob Speedruns/2026/11/bob_speedruns - S202611E01 - Any% attempts.mkv",
            info={
                "id": "v2000000004",
                "uploader_id": "bob_speedruns",
                "uploader": "Bob Speedruns",
                "title": "Any% attempts",
                "thumbnail": thumb,
                "timestamp": 1793736000,
                "game": "Obscure Jam Game",
            },
        ),
        SampleRecording("Chloé Café/chloe_cafe - S202611E01 - Latte art.ts"),
        SampleRecording("eve_quiet/eve_quiet - S202611E01 - Quiet stream.flv"),
        SampleRecording(
            "dana_draws/Season 2026-11/dana_draws - S202611E01 - Drawing requests.mp4",
            info=streamvault_info(
                6,
                "40000000006",
                "dana_draws",
                "Drawing requests",
                "Just Chatting",
                "2026-11-04T15:00:00Z",
            ),
            recording=True,
        ),
    ]


def write_recording(root: Path, rec: SampleRecording, *, finished_mtime: float) -> Path:
    """Write one sample recording (and its companions) below `root`; returns the video."""
    video = root / rec.path
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(VIDEO_FILLER)
    stem = video.name.rsplit(".", 1)[0]
    if rec.info is not None:
        (video.parent / f"{stem}.info.json").write_text(
            json.dumps(rec.info, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    if rec.nfo is not None:
        (video.parent / f"{stem}.nfo").write_text(rec.nfo, encoding="utf-8")
    if rec.thumb_png:
        (video.parent / f"{stem}-thumb.png").write_bytes(make_png(160, 90, seed=len(stem)))
    if not rec.recording:
        os.utime(video, (finished_mtime, finished_mtime))
    return video


def build_demo_tree(root: Path, fake: FakeTwitch, *, now: float) -> list[Path]:
    """Write the demo tree below `root` (the recordings folder); returns the video paths."""
    root.mkdir(parents=True, exist_ok=True)
    videos = [
        write_recording(root, rec, finished_mtime=now - 3600) for rec in demo_recordings(fake)
    ]
    (root / "Chloé Café" / "tvshow.nfo").write_text(CHLOE_TVSHOW, encoding="utf-8")
    leftovers = root / ".media" / "profiles"
    leftovers.mkdir(parents=True, exist_ok=True)
    (leftovers / "streamer_7.jpg").write_bytes(b"old StreamVault file, never read as input")
    return videos


def generate_tree(
    root: Path,
    *,
    recordings: int,
    streamers: list[tuple[str, str, str]],
    categories: list[str],
    now: float,
    with_info: bool = True,
) -> list[Path]:
    """Write `recordings` StreamVault-style recordings spread over `streamers`
    (user_id, login, display name) and `categories`; returns the video paths."""
    videos: list[Path] = []
    for n in range(recordings):
        _uid, login, display = streamers[n % len(streamers)]
        category = categories[n % len(categories)]
        episode = n // len(streamers) + 1
        season = 202601 + (episode // 100) % 12
        title = f"Stream {n}"
        rel = (
            f"{display}/Season {season // 100}-{season % 100:02d}/"
            f"{login} - S{season}E{episode % 100:02d} - {title}.mp4"
        )
        info = (
            streamvault_info(
                n + 1, str(50_000_000_000 + n), login, title, category, "2026-01-05T12:00:00Z"
            )
            if with_info
            else None
        )
        videos.append(
            write_recording(root, SampleRecording(rel, info=info), finished_mtime=now - 3600)
        )
    return videos


__all__ = [
    "ALICE_ID",
    "BOB_ID",
    "SampleRecording",
    "build_demo_tree",
    "demo_recordings",
    "generate_tree",
    "write_recording",
]
