"""Benchmark 1: `run --once` over a generated StreamVault tree, first and second pass.

Every streamer, category and recording resolves at the fake (an archive video per
recording), so the first pass caches S profiles + C box arts + R artworks and writes S + R
NFOs. The second pass over the unchanged tree must download nothing and write no file.
Baseline, measured in the same run: `os.walk` of the tree plus reading and json-parsing
every info.json (best of 3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TextIO

from bench.common import (
    PACKAGE_DIR,
    Counts,
    FakeProcess,
    Row,
    ThreadProfiler,
    bench_config,
    best_of,
    changed_files,
    delta,
    make_library,
    ratio,
    scratch_dir,
    snapshot,
    top_functions,
    walk_and_parse,
)
from svimaged.config import Config
from svimaged.core.clock import SystemClock
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import run_once
from svimaged.pipeline.items import PassSummary


@dataclass(frozen=True, slots=True)
class TreeSize:
    """A generated tree: `streamers` x `per_streamer` recordings over `categories`."""

    streamers: int
    per_streamer: int
    categories: int

    @property
    def recordings(self) -> int:
        return self.streamers * self.per_streamer

    @property
    def label(self) -> str:
        return f"{self.recordings:,} rec"


QUICK = TreeSize(25, 20, 20)
DEFAULT = TreeSize(100, 20, 20)
FULL = TreeSize(1000, 20, 200)


@dataclass(slots=True)
class PassRun:
    """One measured pass: its summary, wall seconds and what the fake served meanwhile."""

    summary: PassSummary
    seconds: float
    served: Counts
    changed: int = 0  # files added/changed/removed in the tree by this pass


class Scenario:
    """A temporary tree with a fake library, ready for passes; use as a context manager."""

    def __init__(self, size: TreeSize, *, nodelay: bool = True) -> None:
        self.size = size
        self.root = scratch_dir()
        self.fake = FakeProcess(nodelay=nodelay)
        # Real Helix allows 800 requests a minute; a 1,000-streamer first pass would wait
        # for the window instead of measuring svimaged.
        self.fake.call("set", {"rate_limit": 100_000})
        lib = make_library(size.streamers, size.categories, size.recordings)
        self.fake.call("load", lib)
        generate_tree(
            self.root / "recordings",
            recordings=size.recordings,
            streamers=lib.streamers,
            categories=lib.categories,
            now=time.time(),
        )
        self.config: Config = bench_config(self.root, self.fake.info)

    def baseline(self) -> float:
        """Seconds for the walk-and-parse baseline (best of 3)."""
        return best_of(3, lambda: walk_and_parse(self.root / "recordings"))

    def run_pass(self, *, track_files: bool = False) -> PassRun:
        before_files = snapshot(self.root / "recordings") if track_files else {}
        before = self.fake.stats()
        start = time.perf_counter()
        summary = run_once(self.config, SystemClock())
        seconds = time.perf_counter() - start
        run = PassRun(summary, seconds, delta(self.fake.stats(), before))
        if track_files:
            run.changed = changed_files(before_files, snapshot(self.root / "recordings"))
        return run

    def close(self) -> None:
        self.fake.close()  # the tree is removed when the run ends (scratch_dir)

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(size: TreeSize, out: TextIO, *, nodelay: bool = True) -> list[Row]:
    """Measure both passes over a tree of `size`; prints progress to `out`."""
    out.write(f"[pass] generating {size.recordings:,} recordings ...\n")
    with Scenario(size, nodelay=nodelay) as sc:
        base = sc.baseline()
        out.write(f"[pass] baseline walk+parse {base:.3f} s; first pass ...\n")
        first = sc.run_pass()
        out.write(f"[pass] first pass {first.seconds:.2f} s; second pass ...\n")
        second = sc.run_pass(track_files=True)
        out.write(f"[pass] second pass {second.seconds:.2f} s\n")
        seasons = len({video.parent for video in (sc.root / "recordings").glob("*/*/*.mp4")})
    return _rows(size, base, first, second, seasons)


def _rows(size: TreeSize, base: float, first: PassRun, second: PassRun, seasons: int) -> list[Row]:
    """The table rows; `seasons` is the number of season folders (each gets Jellyfin's
    `season.nfo`)."""
    s1, s2, tag = first.summary, second.summary, size.label
    b = f"walk+parse {base:.3f} s"
    lookups = math.ceil(size.streamers / 100) + math.ceil(size.categories / 100)
    written = len(s2.cached) + len(s2.nfo_written) + second.changed
    return [
        Row(f"{tag}: first pass", b, "report", _secs(first.seconds, base)),
        Row(f"{tag}: second pass (unchanged)", b, "report", _secs(second.seconds, base)),
        _eq(
            f"{tag}: images cached",
            size.streamers + size.categories + size.recordings,
            len(s1.cached),
        ),
        _eq(
            f"{tag}: NFOs written",
            size.streamers + seasons + size.recordings,  # tvshow, season and episode NFOs
            len(s1.nfo_written),
        ),
        _eq(
            f"{tag}: Helix users+games calls",
            lookups,
            first.served.get("users") + first.served.get("games"),
        ),
        _eq(f"{tag}: Helix videos calls", size.streamers, first.served.get("videos")),
        _eq(f"{tag}: helix_calls (summary)", lookups + size.streamers, s1.helix_calls),
        _eq(
            f"{tag}: 2nd pass bytes downloaded",
            0,
            s2.bytes_downloaded + second.served.bytes_served,
            f" (summary {s2.bytes_downloaded}, CDN bodies {second.served.bytes_served})",
        ),
        _eq(
            f"{tag}: 2nd pass files written",
            0,
            written,
            f" (cached {len(s2.cached)}, nfo {len(s2.nfo_written)}, mtimes {second.changed})",
        ),
        _eq(f"{tag}: 2nd pass Helix calls", 0, s2.helix_calls),
    ]


def _eq(figure: str, expected: int, measured: int, note: str = "") -> Row:
    return Row(figure, "-", f"= {expected}", f"{measured}{note}", measured == expected)


def _secs(seconds: float, base: float) -> str:
    return f"{seconds:.2f} s = {ratio(seconds, base):.0f}x"


def profile_first_pass(size: TreeSize, out: TextIO, *, count: int = 10) -> list[str]:
    """cProfile the first pass (main thread and transfer workers, merged); returns report
    lines: top `count` svimaged functions by cumulative time, top `count` by self time."""
    out.write(f"[profile] first pass over {size.recordings:,} recordings under cProfile ...\n")
    with Scenario(size) as sc:
        prof = ThreadProfiler()
        start = time.perf_counter()
        with prof.active():
            run_once(sc.config, SystemClock())
        wall = time.perf_counter() - start
    stats = prof.stats()
    lines = [f"profiled first pass: {wall:.2f} s wall (times below are summed over threads)"]
    lines.append(f"top {count} svimaged functions by cumulative time:")
    lines += top_functions(stats, key="cumulative", count=count, only=PACKAGE_DIR)
    lines.append(f"top {count} functions by self time (any module):")
    lines += top_functions(stats, key="tottime", count=count)
    return lines
