"""The recordings library the Kodi test scans: svimaged's demo tree plus the cases a real
archive has that the demo lacks, and a table of what each recording is.

The demo tree (`svimaged.demo.sample_tree`) gives StreamVault and yt-dlp `info.json`
recordings, recordings known only by their file names (Chloé's, Eve's), a StreamVault-era
episode NFO with the user's own elements (Alice's E02), a local `-thumb.png`, a user's
`tvshow.nfo` with a `<tag>` (Chloé's), a non-ASCII streamer folder, and a show whose only
recording is still being written (Dana's). `EXTRA_RECORDINGS` adds a second season for Alice
(`Season 2026-10`) with a locked NFO and one that does not parse, a non-ASCII title, and a
recording still being written in a season of its own in a show that has finished ones.

The tables below are written by hand so that tests can be parametrized at collection time;
`test_the_library_table_matches_the_tree` keeps them equal to what `build` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import (
    SampleRecording,
    build_demo_tree,
    streamvault_info,
    write_recording,
)
from svimaged.pipeline.items import PassSummary

ALICE_OCT = "Alice Plays/Season 2026-10/alice_plays - S202610E0"

LOCKED_NFO = """<?xml version="1.0" encoding="UTF-8"?>
<episodedetails>
  <title>My own title</title>
  <plot>Written by hand; svimaged must not touch it.</plot>
  <lockdata>true</lockdata>
</episodedetails>
"""

BROKEN_NFO = "<episodedetails><title>Half & half</title><plot>unterminated</episodedetails>\n"


EXTRA_RECORDINGS: tuple[SampleRecording, ...] = (
    # An October stream whose VOD Twitch no longer has: the category image is its thumb.
    SampleRecording(
        ALICE_OCT + "1 - Halloween special.mp4",
        info=streamvault_info(
            11,
            "40000000011",
            "alice_plays",
            "Halloween special",
            "Just Chatting",
            "2026-10-31T18:00:00Z",
        ),
    ),
    SampleRecording(
        ALICE_OCT + "2 - Hands off.mp4",
        info=streamvault_info(
            12,
            "40000000012",
            "alice_plays",
            "Hands off",
            "League of Legends",
            "2026-10-30T18:00:00Z",
        ),
        nfo=LOCKED_NFO,
    ),
    SampleRecording(ALICE_OCT + "3 - Broken NFO.mp4", nfo=BROKEN_NFO),
    # A non-ASCII title in the file name and in info.json (Twitch has this stream).
    SampleRecording(
        "Chloé Café/chloe_cafe - S202611E02 - Café crème ☕ 日本語.ts",
        info=streamvault_info(
            13,
            "40000000005",
            "chloe_cafe",
            "Café crème ☕ 日本語",
            "Just Chatting",
            "2026-11-03T09:30:00Z",
        ),
    ),
    # Still being written, alone in its season, in a show with finished recordings.
    SampleRecording(
        "Bob Speedruns/2026/12/bob_speedruns - S202612E01 - Live now.mkv", recording=True
    ),
)

#: Every streamer folder; each must become one Kodi show.
SHOW_FOLDERS: tuple[str, ...] = (
    "Alice Plays",
    "Bob Speedruns",
    "Chloé Café",
    "dana_draws",
    "eve_quiet",
)

ALICE_NOV = "Alice Plays/Season 2026-11/alice_plays - S202611E0"

#: Finished recordings svimaged writes an episode NFO for (video paths, relative to the root).
FINISHED_WITH_NFO: tuple[str, ...] = (
    ALICE_OCT + "1 - Halloween special.mp4",
    ALICE_NOV + "1 - Morning coffee & chat.mp4",
    ALICE_NOV + "2 - Ranked grind.mp4",  # merged into the user's StreamVault NFO
    ALICE_NOV + "3 - Pokemon shiny hunt.mp4",  # has a local -thumb.png
    "Bob Speedruns/2026/11/bob_speedruns - S202611E01 - Any% attempts.mkv",
    "Chloé Café/chloe_cafe - S202611E01 - Latte art.ts",  # file name only
    "Chloé Café/chloe_cafe - S202611E02 - Café crème ☕ 日本語.ts",
    "eve_quiet/eve_quiet - S202611E01 - Quiet stream.flv",  # file name only
)
#: Finished, with an NFO svimaged leaves alone: locked, and one that does not parse.
LOCKED = ALICE_OCT + "2 - Hands off.mp4"
BROKEN = ALICE_OCT + "3 - Broken NFO.mp4"
#: Still being written (mtime = now): no episode NFO yet.
IN_PROGRESS: tuple[str, ...] = (
    "Bob Speedruns/2026/12/bob_speedruns - S202612E01 - Live now.mkv",
    "dana_draws/Season 2026-11/dana_draws - S202611E01 - Drawing requests.mp4",
)
#: Every video in the tree.
ALL_VIDEOS: tuple[str, ...] = (*FINISHED_WITH_NFO, LOCKED, BROKEN, *IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class BuiltLibrary:
    """The library on disk after one svimaged pass."""

    root: Path
    summary: PassSummary


def build(root: Path, fake: FakeTwitch, *, now: float) -> None:
    """Write the library below `root` (the recordings folder); URLs point at `fake`."""
    build_demo_tree(root, fake, now=now)
    for rec in EXTRA_RECORDINGS:
        write_recording(root, rec, finished_mtime=now - 3600)


def videos_on_disk(root: Path) -> set[str]:
    """Every video below `root` outside dot-folders, relative to `root`."""
    suffixes = {".mp4", ".mkv", ".ts", ".flv", ".m4v"}
    found = (path.relative_to(root) for path in root.rglob("*") if path.suffix in suffixes)
    return {str(rel) for rel in found if not any(part.startswith(".") for part in rel.parts)}
