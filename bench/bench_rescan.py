"""Benchmark 3: rescans and `run --once` over a tree with only local sources.

A StreamVault tree of N recordings (20 per streamer, 20 categories, info.json everywhere,
`generate_tree`) and a config without Twitch credentials: nothing is downloaded (info.json
names no image URL and nothing asks Helix), so a pass is reading, resolving, NFO writing
and the state. Measured, each against baselines timed in the same run (best of 3):

- the first `run --once` pass (in-process `engine.run_once`), with NFO writing on (the
  default) and, on a second copy of the state, with `nfo.write: false` (reading and
  resolving only), against `os.walk` + reading and json-parsing every info.json;
- the second `run --once` pass over the unchanged tree;
- the daemon's steady-state rescan, `Pipeline.rescan(lambda f: None)`, against
  `find TREE -type f` (a subprocess), and for reference against `find -printf '%s %T@'`
  (which, like the rescan, stats every file) and a plain Python `os.scandir` + `lstat` walk.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any, TextIO

from bench.common import (
    PACKAGE_DIR,
    Row,
    bench_config,
    best_of,
    create_cost,
    make_library,
    ratio,
    scratch_dir,
    top_functions,
    walk_and_parse,
)
from svimaged.config import Config
from svimaged.core.clock import SystemClock
from svimaged.core.groupsync import group_sync_for
from svimaged.demo.sample_tree import generate_tree
from svimaged.pipeline import Pipeline, run_once
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.resources import build_resources

QUICK = 2_000
DEFAULT = 20_000
FULL = 100_000
PER_STREAMER = 20
CATEGORIES = 20
TARGET_RESCAN_ISSUE4 = 3.0
TARGET_RESCAN_ISSUE7 = 2.0
TARGET_FIRST_PASS = 10.0  # issue 14: first pass with durable NFOs, vs walk + parse
TARGET_NO_WRITE = 3.0  # issue 14: first pass with `nfo.write: false`, vs walk + parse
TARGET_SECOND_PASS = 2.0  # issue 14: unchanged `run --once` and sync, vs `find -type f`
#: The floor of durable small-file writes on this disk: NFO-sized files, each fsynced before
#: its rename, one folder fsync, folders on 8 threads (the fastest variant measured).
FLOOR_THREADS = 8
#: What each floor file holds: the size of a typical episode NFO.
FLOOR_NFO = b"<episodedetails>" + b"x" * 600 + b"</episodedetails>\n"
#: Folders per shared sync in the grouped floor (`grouped_floor`).
FLOOR_GROUP = 20
#: Above this many microseconds per created file the disk is in the slow state
#: `bench.common.scratch_dir` explains, and the first-pass figures measure that state.
SLOW_CREATE_US = 100
SLOW_CREATE_NOTE = "docs/performance.md"
#: `run_once` warns about the missing credentials on every pass; expected here.
logging.getLogger("svimaged.pipeline.rescan").setLevel(logging.ERROR)


class LocalTree:
    """A generated tree with info.json everywhere, a no-credentials config, and after
    `first_pass()` a state that knows every recording. Context manager; removes itself."""

    def __init__(self, recordings: int, out: TextIO, **config: Any) -> None:
        self.recordings = recordings
        self.streamers = max(1, recordings // PER_STREAMER)
        self.root = scratch_dir()
        self.tree = self.root / "recordings"
        out.write(f"[tree] generating {recordings:,} recordings ...\n")
        lib = make_library(self.streamers, CATEGORIES, 0)
        generate_tree(
            self.tree,
            recordings=recordings,
            streamers=lib.streamers,
            categories=lib.categories,
            now=time.time(),
        )
        # A user's recordings are on disk long before a first pass: none of the tree's
        # writes should still be waiting for the pass's first sync to flush them.
        os.sync()
        self.config_overrides = config
        self.config: Config = bench_config(self.root, None, **config)
        self.first: PassSummary | None = None
        self.first_seconds = 0.0

    def first_pass(self) -> float:
        """`run --once` on the fresh tree (NFOs written); its seconds. What earlier steps
        wrote (the pass without NFO writes keeps its own state) is flushed first, so the
        pass's shared syncs write out its own files only."""
        os.sync()
        start = time.perf_counter()
        self.first = run_once(self.config, SystemClock())
        self.first_seconds = time.perf_counter() - start
        return self.first_seconds

    def close(self) -> None:
        """Nothing to do now: the tree is removed when the benchmark run ends
        (`scratch_dir`)."""

    def __enter__(self) -> LocalTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_files(tree: Path, *extra: str) -> None:
    """`find TREE -type f [extra]`, output discarded."""
    subprocess.run(["find", str(tree), "-type", "f", *extra], stdout=subprocess.DEVNULL, check=True)


def scandir_lstat(tree: Path) -> int:
    """A plain Python walk that stats every file (dot-folders skipped): the floor for any
    rescan that compares each file's mtime and size with the state. Returns the count."""
    count = 0
    pending = [str(tree)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def durable_floor(root: Path, files: int, per_folder: int) -> float:
    """Seconds to write `files` NFO-sized files durably (temporary, fsync, rename, one
    folder fsync per folder; folders on `FLOOR_THREADS` threads) below a fresh folder in
    `root`: what any program pays on this disk for that many durable files."""
    from concurrent.futures import ThreadPoolExecutor

    base = scratch_dir("floor-", root)
    folders = [base / str(n) for n in range(max(1, files // per_folder))]

    def folder(path: Path) -> None:
        path.mkdir()
        for n in range(per_folder):
            tmp, final = path / f".{n}.tmp", path / f"{n}.nfo"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, FLOOR_NFO)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    start = time.perf_counter()
    with ThreadPoolExecutor(FLOOR_THREADS) as pool:
        list(pool.map(folder, folders))
    return time.perf_counter() - start


def grouped_floor(root: Path, files: int, per_folder: int) -> float | None:
    """Like `durable_floor`, with the shared syncs a pass uses where the file system allows
    them (`svimaged.core.groupsync`): the temporaries of `FLOOR_GROUP` folders written, one
    `syncfs`, renamed, another `syncfs`. None where there are no shared syncs."""
    base = scratch_dir("floor-grouped-", root)
    group = group_sync_for(base)
    if group is None:
        return None
    folders = [base / str(n) for n in range(max(1, files // per_folder))]
    start = time.perf_counter()
    try:
        for first in range(0, len(folders), FLOOR_GROUP):
            chunk = folders[first : first + FLOOR_GROUP]
            for path in chunk:
                path.mkdir()
                for n in range(per_folder):
                    fd = os.open(path / f".{n}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    try:
                        os.write(fd, FLOOR_NFO)
                    finally:
                        os.close(fd)
            group.sync()
            for path in chunk:
                for n in range(per_folder):
                    os.replace(path / f".{n}.tmp", path / f"{n}.nfo")
            group.sync()
        return time.perf_counter() - start
    finally:
        group.close()


def time_no_write_pass(tree: LocalTree) -> float:
    """A first pass with `nfo.write: false` on its own state; it writes nothing into the
    tree, so it runs before the real first pass, on a tree without NFOs."""
    state_dir = tree.root / "state-nowrite"
    config = bench_config(
        tree.root, None, state_dir=str(state_dir), nfo={"write": False}, **tree.config_overrides
    )
    start = time.perf_counter()
    run_once(config, SystemClock())
    return time.perf_counter() - start  # its state stays until the run ends (scratch_dir)


def run(recordings: int, out: TextIO, *, tree: LocalTree | None = None) -> list[Row]:
    """Measure passes and rescans over a tree of `recordings` (or over `tree`, whose first
    pass has not run yet); prints progress to `out`."""
    if tree is None:
        with LocalTree(recordings, out) as own:
            return run(recordings, out, tree=own)
    walk = best_of(3, lambda: walk_and_parse(tree.tree))
    out.write(f"[rescan] walk+parse {walk:.3f} s; first pass without NFO writes ...\n")
    no_write = time_no_write_pass(tree)
    create = create_cost(tree.root)
    out.write(f"[rescan] without NFO writes {no_write:.2f} s; creating a file {create:.0f} us; ")
    out.write("first pass ...\n")
    first = tree.first_pass()
    assert tree.first is not None
    durable = durable_floor(tree.root, len(tree.first.nfo_written), PER_STREAMER)
    grouped = grouped_floor(tree.root, len(tree.first.nfo_written), PER_STREAMER)
    out.write(f"[rescan] first pass {first:.2f} s, durable-write floor {durable:.2f} s")
    out.write(f", with shared syncs {grouped:.2f} s\n" if grouped is not None else "\n")
    second_start = time.perf_counter()
    second = run_once(tree.config, SystemClock())
    second_seconds = time.perf_counter() - second_start
    sync = _time_sync(tree)
    out.write(f"[rescan] second pass {second_seconds:.3f} s, sync {sync:.3f} s; rescans ...\n")
    find = best_of(3, lambda: find_files(tree.tree))
    find_stat = best_of(3, lambda: find_files(tree.tree, "-printf", "%s %T@\\n"))
    floor = best_of(3, lambda: scandir_lstat(tree.tree))
    engine = Pipeline(build_resources(tree.config, SystemClock()))
    changed: list[str] = []
    try:
        rescan = best_of(3, lambda: engine.rescan(changed.append))
    finally:
        engine.close()
    out.write(f"[rescan] rescan {rescan:.3f} s, find {find:.3f} s\n")
    assert tree.first is not None
    return _rows(
        tree,
        {
            "walk": walk,
            "first": first,
            "no_write": no_write,
            "second": second_seconds,
            "sync": sync,
            "durable_floor": durable,
            "grouped_floor": grouped if grouped is not None else float("nan"),
            "create_us": create,
        },
        {"find": find, "find_stat": find_stat, "floor": floor, "rescan": rescan},
        changed=len(changed),
        second_written=len(second.nfo_written),
    )


def _rows(
    tree: LocalTree,
    passes: dict[str, float],
    scans: dict[str, float],
    *,
    changed: int,
    second_written: int,
) -> list[Row]:
    tag = f"{tree.recordings:,} rec local"
    return _rescan_rows(tag, scans, changed) + _pass_rows(
        tag, tree, passes, scans["find"], second_written
    )


def _rescan_rows(tag: str, scans: dict[str, float], changed: int) -> list[Row]:
    find, rescan = scans["find"], scans["rescan"]
    b_find = f"find -type f {find:.3f} s"
    rows = [
        Row(f"{tag}: steady rescan ({issue})", b_find, f"<= {target:g}x", _x(rescan, find),
            ratio(rescan, find) <= target, ratio(rescan, find))
        for issue, target in (("issue 4", TARGET_RESCAN_ISSUE4), ("issue 7", TARGET_RESCAN_ISSUE7))
    ]  # fmt: skip
    rows.append(
        Row(
            f"{tag}: steady rescan vs stat-every-file",
            f"find -printf %s/%T@ {scans['find_stat']:.3f} s; py scandir+lstat "
            f"{scans['floor']:.3f} s",
            "report",
            f"{ratio(rescan, scans['find_stat']):.1f}x find-stat, "
            f"{ratio(rescan, scans['floor']):.1f}x py floor",
        )
    )
    rows.append(
        Row(
            f"{tag}: rescan folders enqueued (unchanged)",
            "-",
            "= 0",
            str(changed),
            changed == 0,
            changed,
        )
    )
    return rows


def _pass_rows(
    tag: str, tree: LocalTree, passes: dict[str, float], find: float, second_written: int
) -> list[Row]:
    walk, first = passes["walk"], passes["first"]
    b_walk = f"walk+parse {walk:.3f} s"
    assert tree.first is not None
    # one NFO per recording and per streamer, and Jellyfin's season.nfo per season folder
    nfos, written = tree.recordings + 2 * tree.streamers, len(tree.first.nfo_written)
    second, sync, floor = passes["second"], passes["sync"], passes["durable_floor"]
    b_find = f"find -type f {find:.3f} s"
    no_write = passes["no_write"]
    rows = [
        Row(f"{tag}: first pass, NFOs written (issue 14)", b_walk, f"<= {TARGET_FIRST_PASS:g}x",
            _x(first, walk), ratio(first, walk) <= TARGET_FIRST_PASS, ratio(first, walk)),
        Row(f"{tag}: first pass vs the disk's durable-write floor", f"{written} durable files "
            f"{floor:.2f} s", "report", f"{ratio(first, floor):.2f}x", None, ratio(first, floor)),
        Row(f"{tag}: creating one empty file, just before the first pass", "-",
            f"report (> {SLOW_CREATE_US} us: see {SLOW_CREATE_NOTE})",
            f"{passes['create_us']:.0f} us", None, passes["create_us"]),
        Row(f"{tag}: first pass, nfo.write false (issue 14)", b_walk,
            f"<= {TARGET_NO_WRITE:g}x", _x(no_write, walk),
            ratio(no_write, walk) <= TARGET_NO_WRITE, ratio(no_write, walk)),
        Row(f"{tag}: first pass NFOs written", "-", f"= {nfos}", str(written), written == nfos,
            written),
        Row(f"{tag}: second run --once (unchanged, issue 14)", b_find,
            f"<= {TARGET_SECOND_PASS:g}x", _x(second, find),
            ratio(second, find) <= TARGET_SECOND_PASS, ratio(second, find)),
        Row(f"{tag}: sync on the unchanged tree (issue 14)", b_find,
            f"<= {TARGET_SECOND_PASS:g}x", _x(sync, find), ratio(sync, find) <= TARGET_SECOND_PASS,
            ratio(sync, find)),
        Row(f"{tag}: second pass NFOs written", "-", "= 0", str(second_written),
            second_written == 0, second_written),
    ]  # fmt: skip
    if not math.isnan(passes["grouped_floor"]):  # the file system has shared syncs
        rows.insert(2, Row(f"{tag}: first pass vs the durable floor with shared syncs",
            f"the floor's files, syncfs per {FLOOR_GROUP} folders "
            f"{passes['grouped_floor']:.2f} s", "report",
            f"{ratio(first, passes['grouped_floor']):.2f}x", None,
            ratio(first, passes["grouped_floor"])))  # fmt: skip
    return rows


#: Tree sizes of the scaling rows (`--full`): the cost per recording should stay flat.
SCALING = (1_000, 10_000, 100_000)
#: How much more a recording may cost at the largest size than at the smallest ("flat").
TARGET_FLAT = 1.5


def scaling(sizes: tuple[int, ...], out: TextIO) -> list[Row]:
    """The first pass (NFOs written) and the unchanged second `run --once` at each size in
    `sizes`, per recording and against walk+parse (first) or `find` (second) of the same
    tree; then the largest size's cost per recording against the smallest's."""
    rows: list[Row] = []
    per: dict[str, dict[int, float]] = {"first pass": {}, "unchanged run --once": {}}
    for size in sizes:
        with LocalTree(size, out) as tree:
            walk = best_of(3, lambda: walk_and_parse(tree.tree))
            first = tree.first_pass()
            start = time.perf_counter()
            run_once(tree.config, SystemClock())
            second = time.perf_counter() - start
            find = best_of(3, lambda: find_files(tree.tree))
        out.write(f"[scaling] {size:,}: first {first:.2f} s, unchanged {second:.3f} s\n")
        per["first pass"][size] = first / size
        per["unchanged run --once"][size] = second / size
        for name, seconds, base, label in (
            ("first pass", first, walk, "walk+parse"),
            ("unchanged run --once", second, find, "find -type f"),
        ):
            rows.append(
                Row(f"{size:,} rec local: {name}, per recording", f"{label} {base:.3f} s",
                    "report", f"{seconds / size * 1e6:.0f} us/rec = {ratio(seconds, base):.1f}x",
                    None, seconds / size * 1e6)
            )  # fmt: skip
    small, large = min(sizes), max(sizes)
    for name, costs in per.items():
        grew = ratio(costs[large], costs[small])
        rows.append(
            Row(f"{name}: cost per recording at {large:,} vs {small:,}",
                f"{costs[small] * 1e6:.0f} us/rec at {small:,}", f"<= {TARGET_FLAT:g}x",
                f"{costs[large] * 1e6:.0f} us/rec = {grew:.2f}x", grew <= TARGET_FLAT, grew)
        )  # fmt: skip
    return rows


def _time_sync(tree: LocalTree) -> float:
    """What `POST /api/images/sync` runs in the daemon (a pass retrying failed images now),
    in-process, on the unchanged tree."""
    engine = Pipeline(build_resources(tree.config, SystemClock()))
    try:
        start = time.perf_counter()
        engine.full_pass(retry_failed_now=True)
        return time.perf_counter() - start
    finally:
        engine.close()


def _x(seconds: float, base: float) -> str:
    return f"{seconds:.3f} s = {ratio(seconds, base):.1f}x"


def profile_rescan(recordings: int, out: TextIO, *, count: int = 12) -> list[str]:
    """cProfile one steady-state rescan over a tree of `recordings`; report lines."""
    import cProfile
    import pstats

    with LocalTree(recordings, out) as tree:
        tree.first_pass()
        engine = Pipeline(build_resources(tree.config, SystemClock()))
        try:
            prof = cProfile.Profile()
            start = time.perf_counter()
            prof.enable()
            engine.rescan(lambda _f: None)
            prof.disable()
            wall = time.perf_counter() - start
        finally:
            engine.close()
    stats = pstats.Stats(prof)
    lines = [f"profiled rescan of {recordings:,} recordings: {wall:.3f} s wall under cProfile"]
    lines.append(f"top {count} functions by self time:")
    lines += top_functions(stats, key="tottime", count=count)
    lines.append(f"top {count} svimaged functions by cumulative time:")
    lines += top_functions(stats, key="cumulative", count=count, only=PACKAGE_DIR)
    return lines
