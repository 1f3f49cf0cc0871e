"""`svimaged demo [DIR]`: the product working offline, without credentials.

Builds a small sample recordings tree in DIR (default `./svimaged-demo`): the StreamVault,
yt-dlp and hand-named streamers of `sample_tree`, and one channel each as ganymede,
LiveStreamDVR, twitch-archiver and a streamlink recorder leave it (`archiver_trees`). Starts
the fake Twitch and CDN from `svimaged.demo` on 127.0.0.1, runs one full pass with a config
that points at the fake, and prints what was cached and written, with the paths. Running it again
on the same folder shows the second pass: nothing downloaded, nothing rewritten.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from svimaged.config import Config, parse_config
from svimaged.core.clock import SystemClock
from svimaged.core.errors import UsageError
from svimaged.core.log import setup_logging
from svimaged.demo.archiver_trees import mixed_tree
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import run_once
from svimaged.pipeline.items import PassSummary

MARKER = ".svimaged-demo"


def demo_config(root: Path, fake: FakeTwitch) -> Config:
    """The demo's config: the tree in `root`, Twitch and the CDN at the fake."""
    data = fake_config_data(fake, root / "recordings", root / "state")
    data["log_level"] = "warning"
    data["timezone"] = "UTC"  # the streamlink recorder's sample names are in UTC
    return parse_config(
        data,
        {},
        source="demo",
    )


def prepare(root: Path) -> bool:
    """Check that `root` is new, empty or an earlier demo; returns True when the tree must
    still be built. Raises `UsageError` for a folder with other content."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).exists():
        raise UsageError(f"{root} is not empty and not an svimaged demo; name a new folder")
    return not (root / "recordings").is_dir()


def run_demo(target: Path, *, out: TextIO | None = None, port: int = 0) -> int:
    """Run the demo in `target`; returns the exit code (0 when the pass ran)."""
    out = out or sys.stdout
    root = target.resolve()
    fresh = prepare(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("svimaged demo folder; safe to delete\n", encoding="utf-8")
    setup_logging("warning")
    clock = SystemClock()
    with FakeTwitch(port=port or _remembered_port(root)) as fake:
        _remember_port(root, fake)
        sample_library(fake)
        if fresh:
            build_demo_tree(root / "recordings", fake, now=clock.time())
            mixed_tree(root / "recordings", now=clock.time())
        config = demo_config(root, fake)
        out.write(f"svimaged demo in {root}\n")
        out.write(f"fake Twitch and CDN at {fake.base_url} (127.0.0.1 only)\n\n")
        summary = run_once(config, clock)
    _report(summary, config, out, first=fresh)
    return 0


def _remembered_port(root: Path) -> int:
    try:
        return int((root / "state" / "demo-port").read_text().strip())
    except (OSError, ValueError):
        return 0


def _remember_port(root: Path, fake: FakeTwitch) -> None:
    (root / "state").mkdir(parents=True, exist_ok=True)
    (root / "state" / "demo-port").write_text(fake.base_url.rsplit(":", 1)[1] + "\n")


def _report(summary: PassSummary, config: Config, out: TextIO, *, first: bool) -> None:
    rec = config.recordings
    out.write(
        f"pass over {summary.streamers} streamer folders, {summary.recordings} recordings "
        f"in {summary.seconds:.2f} s\n"
    )
    out.write(f"images cached under {config.images_root}:\n")
    for path in sorted(summary.cached) or ["(none: all cached images are fresh)"]:
        out.write(f"  {path}\n")
    out.write("NFO files written:\n")
    for path in sorted(summary.nfo_written) or ["(none: every NFO is up to date)"]:
        out.write(f"  {path}\n")
    out.write(f"\n{summary.line()}\n")
    example = rec / "Alice Plays" / "Season 2026-11"
    nfo = example / "alice_plays - S202611E02 - Ranked grind.nfo"
    if first and nfo.is_file():
        out.write(f"\n{nfo} (merged with StreamVault's file; its comment and rating kept):\n")
        out.write(nfo.read_text(encoding="utf-8"))
    if first:
        out.write(f"\nrun `svimaged demo {rec.parent}` again: the second pass changes nothing.\n")
