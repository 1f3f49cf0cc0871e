"""A real Kodi 20, told by a running svimaged (`notify`), shows new work without a manual scan.

One svimaged pass and one Kodi scan build the library as in `test_kodi.py` (the demo tree).
Then the daemon runs in-process with `notify` set to that Kodi's JSON-RPC and
`watch.settle_seconds` = 2, and nothing else ever asks Kodi to scan:

- a recording copied into the tree (video and info.json, the way a user copies a finished
  recording in) must be in Kodi's library with its thumb and its show's poster, both
  loading, within settle_seconds + 10 s of the copy (svimaged: settle, pass, artwork
  download, NFO; then `VideoLibrary.Scan` of the show folder);
- a recording whose artwork download failed shows its fallback thumb first; after a sync
  fetches the artwork, svimaged rewrites the NFO and Kodi must show the artwork within 10 s
  of the sync (`VideoLibrary.GetEpisodes` by path, `VideoLibrary.RefreshEpisode`).

The times measured are attached to the test report (`record_property`) and printed with
`-s`. Without Kodi or Xvfb the tests skip with the reason, like the other Kodi tests.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from svimaged.config import parse_config
from svimaged.control.client import ControlClient
from svimaged.core.clock import FakeClock
from svimaged.daemon.lifecycle import Daemon
from svimaged.daemon.sdnotify import Notifier
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import run_once
from tests.integration.conftest import _unavailable
from tests.integration.kodi import Binaries, KodiHarness, KodiUnavailable, unwrap_image_url

SETTLE = 2.0
#: The issue's bound for a new recording: settle_seconds + 10 s.
NEW_RECORDING_LIMIT = SETTLE + 10.0
#: From the end of a sync that rewrote an NFO to Kodi showing it.
REWRITE_LIMIT = 10.0
PASSWORD_VARIABLE = "SVIMAGED_TEST_KODI_PASSWORD"
ALICE = "Alice Plays"
SEASON = "Season 2026-11"


@dataclass
class Stage:
    """The running pieces: the tree, the fake Twitch, Kodi and the daemon's socket."""

    root: Path
    staging: Path
    fake: FakeTwitch
    kodi: KodiHarness
    socket: Path


@pytest.fixture(scope="module")
def stage(kodi_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    base = tmp_path_factory.mktemp("kodi-notify")
    root, now = base / "recordings", time.time()
    with FakeTwitch() as fake:
        sample_library(fake)
        build_demo_tree(root, fake, now=now)
        data = fake_config_data(fake, root, base / "state")
        data["watch"] = {"settle_seconds": SETTLE, "mode": "inotify"}
        run_once(parse_config(data, {}), FakeClock(start=now + 60))  # every recording finished
        kodi = KodiHarness(workdir=base / "kodi", source=root, binaries=kodi_binaries)
        try:
            kodi.start()
        except KodiUnavailable as exc:
            _unavailable(exc)
        daemon: Daemon | None = None
        thread: threading.Thread | None = None
        try:
            kodi.set_tv_source()
            kodi.scan()  # the library as it was; from here on only svimaged asks for scans
            data["notify"] = [
                {
                    "type": "kodi",
                    "url": kodi.base_url,
                    "username": kodi.username,
                    "password_env": PASSWORD_VARIABLE,
                }
            ]
            config = base / "config.yaml"
            config.write_text(yaml.safe_dump(data), encoding="utf-8")
            env = {PASSWORD_VARIABLE: kodi.password}
            daemon = Daemon(config, env, notifier=Notifier({}))
            thread = threading.Thread(target=daemon.run, name="svimaged-daemon")
            thread.start()
            socket = Path(data["control"]["socket"])
            wait_until(lambda: _answers(socket), 30.0, "the daemon's control socket", kodi)
            staging = base / "staging"
            staging.mkdir()
            yield Stage(root, staging, fake, kodi, socket)
        finally:
            if daemon is not None and thread is not None:
                daemon.request_stop()
                thread.join(15)
            kodi.stop()


def _answers(socket: Path) -> bool:
    try:
        ControlClient(socket, timeout=2).request("GET", "/healthz")
    except Exception:
        return False
    return True


def wait_until(check: Callable[[], bool], limit: float, what: str, kodi: KodiHarness) -> float:
    """Poll `check` until true; the seconds it took, or a failure with Kodi's log."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            pytest.fail(f"{what}: not within {limit:.0f} s\n{kodi.log_tail(40)}")
        time.sleep(0.1)
    return time.monotonic() - start


def copy_recording(stage: Stage, stem: str, info: dict[str, Any]) -> Path:
    """Put a finished recording (video with an old mtime, then its info.json) into Alice's
    season folder the way `cp -p` does; returns the video's path in the tree."""
    video = stage.staging / f"{stem}.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 a finished recording")
    old = time.time() - 3600
    os.utime(video, (old, old))
    sidecar = stage.staging / f"{stem}.info.json"
    sidecar.write_text(json.dumps(info), encoding="utf-8")
    season = stage.root / ALICE / SEASON
    shutil.copy2(sidecar, season / sidecar.name)
    return Path(shutil.copy2(video, season / video.name))


def info_json(stage: Stage, sv_id: int, stream_id: str, title: str) -> dict[str, Any]:
    """A StreamVault info.json whose thumbnail is a video thumbnail on the fake CDN."""
    return {
        "id": sv_id,
        "twitch_id": stream_id,
        "streamer": {"id": 7, "username": "alice_plays", "profile_image": None},
        "title": title,
        "category": "Just Chatting",
        "started_at": "2026-11-20T18:00:00Z",
        "thumbnail": stage.fake.url_for("thumbnail", "2000000004"),
    }


def episode(stage: Stage, video: Path) -> dict[str, Any] | None:
    """The episode Kodi has for `video`, with its art, or None."""
    result = stage.kodi.call(
        "VideoLibrary.GetEpisodes",
        {
            "filter": {"field": "filename", "operator": "is", "value": video.name},
            "properties": ["file", "art", "tvshowid"],
        },
    )
    found = [e for e in result.get("episodes", []) if e["file"] == str(video)]
    return found[0] if found else None


def shown_with_art(stage: Stage, video: Path, thumb_in: str) -> bool:
    """True when Kodi lists `video` with a thumb below `thumb_in` that loads, and its show
    with a poster that loads."""
    found = episode(stage, video)
    if found is None:
        return False
    thumb = found["art"].get("thumb")
    if thumb is None or thumb_in not in unwrap_image_url(thumb):
        return False
    show = stage.kodi.call(
        "VideoLibrary.GetTVShowDetails", {"tvshowid": found["tvshowid"], "properties": ["art"]}
    )["tvshowdetails"]
    poster = show["art"].get("poster")
    return (
        poster is not None
        and stage.kodi.image_loads(poster).ok
        and stage.kodi.image_loads(thumb).ok
    )


def seconds_until_shown(stage: Stage, video: Path, thumb_in: str, limit: float, what: str) -> float:
    """Wait until Kodi shows `video` with a thumb below `thumb_in` and its show's poster,
    both loading; the seconds it took (a failure after `limit`)."""
    return wait_until(lambda: shown_with_art(stage, video, thumb_in), limit, what, stage.kodi)


def notified(stage: Stage) -> int:
    _status, stats = ControlClient(stage.socket).request("GET", "/api/images/stats")
    assert isinstance(stats, dict)
    return int(stats["notify"]["kodi"]["sent"])


def test_a_copied_recording_is_in_kodi_with_art_within_settle_plus_10_s(
    stage: Stage, record_property: Callable[[str, object], None]
) -> None:
    stem = "alice_plays - S202611E04 - Late night"
    target = stage.root / ALICE / SEASON / f"{stem}.mp4"
    assert episode(stage, target) is None
    before = notified(stage)
    video = copy_recording(stage, stem, info_json(stage, 4, "40000000004", "Late night"))
    seconds = seconds_until_shown(
        stage, video, "/.images/artwork/", NEW_RECORDING_LIMIT, "the copied recording in Kodi"
    )
    record_property("seconds_to_kodi", round(seconds, 2))
    print(f"\nnew recording in Kodi with poster and thumb after {seconds:.2f} s")
    assert notified(stage) > before  # svimaged told Kodi; nobody else asked for a scan


def test_a_rewritten_nfo_reaches_kodi_through_a_refresh(
    stage: Stage, record_property: Callable[[str, object], None]
) -> None:
    stem = "alice_plays - S202611E05 - Second late night"
    stage.fake.fail("cdn", 500)  # the artwork download fails once: the NFO gets a fallback
    video = copy_recording(stage, stem, info_json(stage, 5, "40000000005", "Second late night"))
    seconds_until_shown(
        stage, video, "/.images/", NEW_RECORDING_LIMIT, "the recording with a fallback thumb"
    )
    found = episode(stage, video)
    assert found is not None
    assert "/.images/artwork/" not in unwrap_image_url(found["art"]["thumb"])
    client = ControlClient(stage.socket, timeout=60)
    client.request("POST", "/api/images/sync", query={"wait": "1"}, timeout=60)
    seconds = seconds_until_shown(
        stage, video, "/.images/artwork/", REWRITE_LIMIT, "the artwork of the rewritten NFO"
    )
    record_property("seconds_to_refresh", round(seconds, 2))
    print(f"\nrewritten NFO in Kodi after {seconds:.2f} s")
