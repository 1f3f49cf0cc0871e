"""Benchmark 2: image transfers through the pipeline against a CDN with latency.

N streamers with one recording each and no info.json: logins come from the file names, no
stream id and no category are known, so a pass needs exactly N distinct images (the
profiles). The fake answers every request after `LATENCY` seconds; with
`download.concurrency` C the first sync cannot beat N / C x LATENCY (the latency-bound
limit). A second pass with `refresh_interval: 0` revalidates every image with a
conditional GET, which must cost 304s, not bytes.

Baselines, measured in the same run: the limit above, the same N GETs done by plain
`requests` sessions on C threads against the same fake, and by `curl --parallel
--parallel-max C` (skipped with a line saying so when curl is not installed). The whole-pass
figure is what a user waits for in `run --once`: services built, the pass, services closed.
Frames are not grabbed (`artwork.ffmpeg: false`): the fake's recordings are not videos.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import requests

from bench.common import (
    Counts,
    FakeProcess,
    Row,
    bench_config,
    delta,
    make_library,
    ratio,
    scratch,
)
from svimaged.config import Config
from svimaged.core.clock import SystemClock
from svimaged.demo.pictures import make_jpeg
from svimaged.demo.sample_tree import generate_tree
from svimaged.images.tasks import ImageTask
from svimaged.images.transfer import Batch
from svimaged.outputs.apply import FolderResult
from svimaged.pipeline.items import PassSummary, StreamerItem
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import build_resources

LATENCY = 0.05
CONCURRENCY = 4
TARGET_RATIO = 1.3
TARGET_CURL = 1.1
TARGET_BYTES = 0.01


class TimedPass(Pass):
    """A Pass that also records how long its transfers took: from the first one started to
    the end of the last one (the folders' outputs are written meanwhile)."""

    transfer_seconds = 0.0
    last_done = 0.0  # perf_counter() when the last transfer ended
    _first: float | None = None

    def transfer(self, transfers: Batch, tasks: list[ImageTask], now: float) -> None:
        if self._first is None:
            self._first = time.perf_counter()
        super().transfer(transfers, tasks, now)

    def write(self, items: list[StreamerItem], transfers: Batch) -> dict[str, FolderResult]:
        finished = transfers.finished

        def stamped() -> Iterator[str]:
            for rel in finished():
                self.last_done = time.perf_counter()
                self.transfer_seconds = self.last_done - (self._first or 0.0)
                yield rel

        transfers.finished = stamped  # type: ignore[method-assign]
        return super().write(items, transfers)


@dataclass(slots=True)
class SyncRun:
    """One measured pass: summary, transfer-step and whole-pass seconds, seconds from the end
    of the last transfer to the end of the pass (the outputs still to write), what was
    served."""

    summary: PassSummary
    transfer_seconds: float
    seconds: float
    served: Counts
    after_last: float = 0.0


def timed_pass(config: Config, fake: FakeProcess) -> SyncRun:
    """One pass like `run --once` (services built and closed around it), timed."""
    before = fake.stats()
    start = time.perf_counter()
    res = build_resources(config, SystemClock())
    try:
        p = TimedPass(res)
        summary = p.run()
    finally:
        res.close()
    end = time.perf_counter()
    after = end - p.last_done if p.last_done else 0.0
    return SyncRun(summary, p.transfer_seconds, end - start, delta(fake.stats(), before), after)


def raw_fetch(urls: list[str], concurrency: int, timeout: float) -> tuple[float, int]:
    """GET every URL with plain requests sessions (one per thread); (seconds, body bytes)."""
    local = threading.local()

    def get(url: str) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        resp = session.get(url, timeout=timeout)
        resp.raise_for_status()
        return len(resp.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(get, urls))
    return time.perf_counter() - start, total


def curl_fetch(urls: list[str], concurrency: int, folder: Path) -> float | None:
    """GET every URL with one `curl --parallel --parallel-max concurrency` into `folder`;
    seconds, or None without curl."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "curl.cfg"
    lines = [f'url = "{url}"\noutput = "{folder / f"{n}.img"}"' for n, url in enumerate(urls)]
    config.write_text("\n".join(lines) + "\n")
    args = [curl, "--parallel", "--parallel-max", str(concurrency), "-sSf", "--no-progress-meter"]
    args += ["-K", str(config)]
    start = time.perf_counter()
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(images: int, out: TextIO, *, nodelay: bool = True) -> list[Row]:
    """Measure first sync and revalidation of `images` profile images; prints progress."""
    with (
        scratch() as tmp,
        FakeProcess(nodelay=nodelay) as fake,
    ):
        root = Path(tmp)
        lib = make_library(images, 0, 0)
        fake.call("load", lib)
        generate_tree(
            root / "recordings",
            recordings=images,
            streamers=lib.streamers,
            categories=["unused"],
            now=time.time(),
            with_info=False,
        )
        urls: list[str] = fake.call("profile_urls", [uid for uid, _, _ in lib.streamers])
        raw_fetch(urls, CONCURRENCY, 10)  # warm-up: the fake generates each image once
        fake.call("set", {"latency": LATENCY})
        out.write(f"[transfers] raw GET of {images} images ...\n")
        raw_seconds, _ = raw_fetch(urls, CONCURRENCY, 10)
        curl_seconds = curl_fetch(urls, CONCURRENCY, root / "curl")
        if curl_seconds is None:
            out.write("[transfers] curl is not installed: the curl baseline row is skipped\n")
        download = {"concurrency": CONCURRENCY}
        artwork = {"ffmpeg": False}
        shown = "-" if curl_seconds is None else f"{curl_seconds:.2f} s"
        out.write(f"[transfers] raw {raw_seconds:.2f} s, curl {shown}; first sync ...\n")
        first = timed_pass(bench_config(root, fake.info, download=download, artwork=artwork), fake)
        out.write(f"[transfers] first sync {first.seconds:.2f} s; revalidation ...\n")
        config = bench_config(
            root, fake.info, download=download, artwork=artwork, refresh_interval=0
        )
        second = timed_pass(config, fake)
        out.write(f"[transfers] revalidation {second.seconds:.2f} s\n")
    return _rows(images, raw_seconds, first, second) + _curl_rows(images, curl_seconds, first)


def helix_videos(streamers: int, out: TextIO, *, nodelay: bool = True) -> list[Row]:
    """Helix `videos` listings of a first pass over `streamers` StreamVault folders (one
    recording each, info.json with the stream id and no thumbnail): once without artwork of
    their own (each needs its Helix thumbnail), once with a local `-thumb.jpg` each."""
    rows = []
    for local in (False, True):
        with (
            scratch() as tmp,
            FakeProcess(nodelay=nodelay) as fake,
        ):
            root = Path(tmp)
            lib = make_library(streamers, 1, streamers)
            fake.call("load", lib)
            videos = generate_tree(
                root / "recordings",
                recordings=streamers,
                streamers=lib.streamers,
                categories=lib.categories,
                now=time.time(),
            )
            if local:
                for video in videos:
                    video.with_name(f"{video.stem}-thumb.jpg").write_bytes(make_jpeg(64, 36))
            out.write(f"[transfers] helix videos, {streamers} streamers, local thumbs {local}\n")
            run = timed_pass(bench_config(root, fake.info, artwork={"ffmpeg": False}), fake)
            calls = run.served.get("videos")
            want = 0 if local else streamers
            what = "a local -thumb.jpg each" if local else "no artwork of their own"
            rows.append(
                Row(
                    f"{streamers} streamers, {what}: Helix videos calls",
                    "-",
                    f"= {want}",
                    f"{calls} ({run.summary.failed} images failed)",
                    calls == want,
                    calls,
                )
            )
    return rows


def _curl_rows(images: int, curl: float | None, first: SyncRun) -> list[Row]:
    """The whole first sync against curl on the same URLs (none without curl)."""
    if curl is None:
        return []
    return [
        Row(
            f"{images} img: first sync, whole pass vs curl",
            f"curl --parallel --parallel-max {CONCURRENCY} {curl:.2f} s",
            f"<= {TARGET_CURL}x curl",
            f"{first.seconds:.2f} s = {ratio(first.seconds, curl):.2f}x curl",
            ratio(first.seconds, curl) <= TARGET_CURL,
            ratio(first.seconds, curl),
        )
    ]


def _rows(images: int, raw: float, first: SyncRun, second: SyncRun) -> list[Row]:
    limit = math.ceil(images / CONCURRENCY) * LATENCY
    tag = f"{images} img"
    base = f"limit {limit:.2f} s, raw GET {raw:.2f} s"
    helix = first.served.get("users") + first.served.get("token")
    got = len(first.summary.cached)
    sent = first.served.bytes_served
    again = second.served.bytes_served
    return [
        Row(
            f"{tag}: first sync, transfer step",
            base,
            f"<= {TARGET_RATIO}x limit",
            _vs(first.transfer_seconds, limit, raw),
            ratio(first.transfer_seconds, limit) <= TARGET_RATIO,
            ratio(first.transfer_seconds, limit),
        ),
        Row(
            f"{tag}: first sync, whole pass",
            base,
            f"report ({helix} Helix+token round trips)",
            _vs(first.seconds, limit, raw),
            None,
            ratio(first.seconds, limit),
        ),
        Row(f"{tag}: first sync images stored", "-", f"= {images}", str(got), got == images),
        Row(
            f"{tag}: first sync, end of pass after the last image",
            "-",
            "report",
            f"{first.after_last:.2f} s",
            None,
            first.after_last,
        ),
        Row(
            f"{tag}: revalidation bytes (CDN bodies)",
            f"first sync {sent:,} B",
            f"<= {TARGET_BYTES:.0%}",
            f"{again:,} B = {ratio(again, sent):.2%}; 304s {second.served.get('cdn_304')}",
            sent > 0 and ratio(again, sent) <= TARGET_BYTES,
        ),
        Row(
            f"{tag}: revalidation, transfer step",
            base,
            f"<= {TARGET_RATIO}x limit",
            _vs(second.transfer_seconds, limit, raw),
            ratio(second.transfer_seconds, limit) <= TARGET_RATIO,
            ratio(second.transfer_seconds, limit),
        ),
    ]


def _vs(seconds: float, limit: float, raw: float) -> str:
    return f"{seconds:.2f} s = {ratio(seconds, limit):.2f}x limit, {ratio(seconds, raw):.2f}x raw"
