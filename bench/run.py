"""Run the benchmarks and print one table.

`python -m bench` runs the 2,000-recording pass benchmark and the 400-image transfer
benchmark; `--quick` shrinks both (500 recordings, 100 images); `--full` adds the
20,000-recording pass; `--profile` adds a cProfile summary of the first pass. Exit code 0
when every figure with a target meets it, 1 when one misses, 2 on bad usage, 3 when the
time bound was hit.
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

from bench import bench_pass, bench_transfers
from bench.common import Row, format_table

#: Hard bounds in seconds; the run aborts (temporary folders removed) when one is hit.
BOUND_QUICK = 180
BOUND_DEFAULT = 480
BOUND_FULL = 1800


class BoundExceeded(BaseException):
    """The whole run took longer than its bound (BaseException: nothing may swallow it)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller run (500 rec, 100 images)")
    p.add_argument("--full", action="store_true", help="also the 20,000-recording pass")
    p.add_argument("--profile", action="store_true", help="cProfile the first pass")
    p.add_argument("--only", choices=("pass", "transfers"), help="run one benchmark")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument(
        "--fake-nagle",
        action="store_true",
        help="leave Nagle on in the fake's HTTP server (shows the 40 ms delayed-ACK stall)",
    )
    return p


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
    return rows, profile


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of `python -m bench`; returns the exit code."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    bound = BOUND_FULL if args.full else BOUND_QUICK if args.quick else BOUND_DEFAULT
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(bound)
    start = time.perf_counter()
    try:
        rows, profile = run_all(args, out)
    except BoundExceeded:
        out.write(f"benchmark aborted: time bound of {bound} s exceeded\n")
        return 3
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out.write(f"\nsvimaged benchmarks ({time.perf_counter() - start:.0f} s total)")
    out.write(" [fake with Nagle on]\n" if args.fake_nagle else "\n")
    out.write(format_table(rows, markdown=args.markdown) + "\n")
    if profile:
        out.write("\n" + "\n".join(profile) + "\n")
    return 1 if any(r.ok is False for r in rows) else 0
