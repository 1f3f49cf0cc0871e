"""Run the benchmarks and print one table.

`python -m bench` runs, in this order: the 2,000-recording pass, the 400-image transfers and
the Helix `videos` calls of 400 streamers against the fake; rescans and `run --once` over a
20,000-recording tree with local sources only, the daemon's memory after its start-up rescan
of that tree (and its `POST /api/images/sync?wait=1` there, over the socket) and after its
own first pass of a fresh tree of the same size, and what a whole-tree pass leaves in a
fresh interpreter; the control socket's stats latency at
1,000 and 20,000 recordings and 1,000 conditional image GETs; the daemon's
latency from a finished recording to its NFO (polling, then inotify) and a burst of 5,000
recordings. `--quick` shrinks everything (500-recording pass, 100 images, a 2,000-recording
tree, 10 drops per mode, a 500-recording burst); `--full` adds the 20,000-recording pass,
the 100,000-recording tree (rescan, daemon memory) and stats at 100,000 recordings;
`--only control` also measures the control server itself (load, a slow-client flood, huge
headers) against the version at `--control-ref` (default: the hand-written server before its
hardening), and any further `--control-ref` as a candidate (`--only control-server`: only
that);
`--scaling` (and `--full`) adds the first and the unchanged pass at 1,000, 10,000 and 100,000
recordings, per recording; `--runs N` runs everything N times and shows each figure's median
run; `--profile` adds cProfile summaries of the first pass and of one rescan. Exit code 0 when
every figure with a target meets it, 1 when one misses, 2 on bad usage, 3 when the time
bound was hit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from bench import (
    bench_control,
    bench_control_server,
    bench_daemon,
    bench_pass,
    bench_rescan,
    bench_transfers,
    bench_wholetree,
)
from bench.common import Row, format_table, median_rows, remove_scratch

#: Hard bounds in seconds; the run aborts (temporary folders removed) when one is hit.
BOUND_QUICK = 180
BOUND_DEFAULT = 480
BOUND_FULL = 1800
#: Added by `--scaling` without `--full` (the three trees, 100,000 recordings the largest).
BOUND_SCALING = 900


BENCHMARKS = ("pass", "transfers", "rescan", "control", "control-server", "daemon")


class BoundExceeded(BaseException):
    """The whole run took longer than its bound (BaseException: nothing may swallow it)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller run (about 2 minutes)")
    p.add_argument(
        "--full", action="store_true", help="also 20,000-rec pass, 100,000-rec tree and stats"
    )
    p.add_argument("--profile", action="store_true", help="cProfile the first pass and a rescan")
    p.add_argument("--only", choices=BENCHMARKS, help="run one benchmark")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument(
        "--runs",
        type=_positive,
        default=1,
        metavar="N",
        help="run everything N times and show each figure's median run (and every run's value)",
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="first and unchanged pass at 1,000 / 10,000 / 100,000 recordings (also --full)",
    )
    p.add_argument(
        "--control-ref",
        action="append",
        metavar="REF",
        help="git ref of the control server to compare with (first: the baseline, default "
        f"{bench_control_server.BASELINE_REF}; more: candidates); repeatable",
    )
    p.add_argument(
        "--fake-nagle",
        action="store_true",
        help="leave Nagle on in the fake's HTTP server (shows the 40 ms delayed-ACK stall)",
    )
    return p


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise BoundExceeded


def run_all(args: argparse.Namespace, out: TextIO) -> tuple[list[Row], list[str]]:
    """Every selected benchmark; (table rows, profile lines)."""
    nodelay = not args.fake_nagle
    size = bench_pass.QUICK if args.quick else bench_pass.DEFAULT
    rows: list[Row] = []
    profile: list[str] = []
    if args.only in (None, "pass"):
        rows += bench_pass.run(size, out, nodelay=nodelay)
        if args.full:
            rows += bench_pass.run(bench_pass.FULL, out, nodelay=nodelay)
        if args.profile:
            profile = bench_pass.profile_first_pass(size, out)
    if args.only in (None, "transfers"):
        images = 100 if args.quick else 400
        rows += bench_transfers.run(images, out, nodelay=nodelay)
        rows += bench_transfers.helix_videos(images, out, nodelay=nodelay)
    rows += run_trees(args, out)
    if (args.scaling or args.full) and args.only in (None, "rescan"):
        rows += bench_rescan.scaling(bench_rescan.SCALING, out)
    if args.profile and args.only in (None, "rescan"):
        tree = bench_rescan.QUICK if args.quick else bench_rescan.DEFAULT
        profile += ([""] if profile else []) + bench_rescan.profile_rescan(tree, out)
    if args.only in (None, "control"):
        sizes = bench_control.SIZES_FULL if args.full else bench_control.SIZES_DEFAULT
        rows += bench_control.run(sizes, out)
    if args.only in (None, "control", "control-server"):
        refs = tuple(args.control_ref or [bench_control_server.BASELINE_REF])
        rows += bench_control_server.compare(refs, out)
    if args.only in (None, "daemon"):
        rows += bench_daemon.run(bench_daemon.QUICK if args.quick else bench_daemon.DEFAULT, out)
    return rows, profile


def run_trees(args: argparse.Namespace, out: TextIO) -> list[Row]:
    """Rescan figures and the daemon's memory, sharing each generated tree."""
    if args.only not in (None, "rescan", "daemon"):
        return []
    sizes = [bench_rescan.QUICK if args.quick else bench_rescan.DEFAULT]
    if args.full:
        sizes.append(bench_rescan.FULL)
    rows: list[Row] = []
    for recordings in sizes:
        with bench_rescan.LocalTree(recordings, out) as tree:
            if args.only in (None, "rescan"):
                rows += bench_rescan.run(recordings, out, tree=tree)
            else:
                tree.first_pass()
            if args.only in (None, "daemon"):
                rows += bench_daemon.rss_rows(tree, out)
        if args.only in (None, "daemon"):
            rows += bench_daemon.first_pass_rss_rows(recordings, out)
            rows += bench_wholetree.run(recordings, out)
    return rows


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of `python -m bench`; returns the exit code."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    bound = BOUND_FULL if args.full else BOUND_QUICK if args.quick else BOUND_DEFAULT
    bound *= max(1, args.runs)
    if args.scaling and not args.full:
        bound += BOUND_SCALING
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(bound)
    start = time.perf_counter()
    runs: list[list[Row]] = []
    try:
        for n in range(args.runs):
            if args.runs > 1:
                out.write(f"[runs] run {n + 1} of {args.runs}\n")
            rows, profile = run_all(args, out)
            runs.append(rows)
        rows = median_rows(runs)
    except BoundExceeded:
        out.write(f"benchmark aborted: time bound of {bound} s exceeded\n")
        return 3
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        remove_scratch()
    out.write(f"\nsvimaged benchmarks ({time.perf_counter() - start:.0f} s total)")
    out.write(" [fake with Nagle on]\n" if args.fake_nagle else "\n")
    out.write(format_table(rows, markdown=args.markdown) + "\n")
    if profile:
        out.write("\n" + "\n".join(profile) + "\n")
    return 1 if any(r.ok is False for r in rows) else 0
