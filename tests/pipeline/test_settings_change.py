"""A setting that changes what is written reaches every file it affects, on the next pass
(and in the daemon on start and SIGHUP), and only those; the pass after writes nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.pipeline import run_once


def nfos(rec: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in rec.rglob("*.nfo")}


def setup(tmp_path: Path, fake: FakeTwitch) -> tuple[Path, dict[str, Any]]:
    rec = tmp_path / "rec"
    build_demo_tree(rec, fake, now=time.time())
    return rec, fake_config_data(fake, rec, tmp_path / "state")


def test_adding_a_path_map_rewrites_every_nfo_and_the_next_pass_writes_nothing(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, data = setup(tmp_path, fake)
    clock = FakeClock(time.time())
    run_once(parse_config(data, {}), clock)
    before = nfos(rec)
    referencing = {p for p, body in before.items() if str(rec / ".images").encode() in body}
    data["nfo"] = {"path_map": [{"from": str(rec), "to": "/data/tv"}]}
    mapped = run_once(parse_config(data, {}), clock)
    assert {Path(p) for p in mapped.nfo_written} == referencing  # every affected one, only those
    after = nfos(rec)
    for path in referencing:
        assert str(rec / ".images").encode() not in after[path], path
        assert b"/data/tv/.images/" in after[path], path
    assert mapped.cached == []  # nothing downloaded again
    again = run_once(parse_config(data, {}), clock)
    assert again.nfo_written == [] and again.cached == []


def test_a_smb_path_map_is_written_as_kodi_clients_see_the_share(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, data = setup(tmp_path, fake)
    data["nfo"] = {"path_map": [{"from": str(rec), "to": "smb://nas/recordings"}]}
    run_once(parse_config(data, {}), FakeClock(time.time()))
    tvshow = (rec / "Alice Plays" / "tvshow.nfo").read_text()
    assert '<thumb aspect="poster">smb://nas/recordings/.images/profiles/' in tvshow


def test_media_servers_and_season_poster_changes_rewrite_what_they_change(
    tmp_path: Path, fake: FakeTwitch
) -> None:
    rec, data = setup(tmp_path, fake)
    clock = FakeClock(time.time())
    run_once(parse_config(data, {}), clock)
    data["media_servers"] = ["kodi", "jellyfin", "plex"]
    plex = run_once(parse_config(data, {}), clock)
    assert plex.nfo_written == []  # the NFOs do not change; the image files come
    assert (rec / "Alice Plays" / "poster.jpg").is_file()
    data["nfo"] = {"season_poster": "category"}
    changed = run_once(parse_config(data, {}), clock)
    written = {Path(p).name for p in changed.nfo_written}
    assert written and written <= {"tvshow.nfo", "season.nfo"}
    assert run_once(parse_config(data, {}), clock).nfo_written == []
