"""End to end: a generated StreamVault-style tree + the fake Twitch on 127.0.0.1, full passes."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from PIL import Image

from svimaged.config import Config, parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.errors import MetadataError
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import (
    ALICE_ID,
    BOB_ID,
    CHLOE_ID,
    DANA_ID,
    FakeTwitch,
)
from svimaged.demo.sample_tree import build_demo_tree, generate_tree
from svimaged.images.codec import sniff
from svimaged.pipeline import run_once
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.passes import Pass
from svimaged.pipeline.resources import build_resources
from svimaged.twitch.lookup import category_slug_for

ALICE = "Alice Plays/Season 2026-11/alice_plays - S202611E0{n} - {title}"
TITLES = {1: "Morning coffee & chat", 2: "Ranked grind", 3: "Pokemon shiny hunt"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())


def make_config(tmp_path: Path, fake: FakeTwitch, **overrides: Any) -> Config:
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return parse_config(data, {})


def run(config: Config, clock: FakeClock) -> PassSummary:
    return run_once(config, clock)


@pytest.fixture
def tree(tmp_path: Path, fake: FakeTwitch, clock: FakeClock) -> Path:
    root = tmp_path / "rec"
    build_demo_tree(root, fake, now=clock.time())
    return root


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file below root with (inode, mtime_ns)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_ino, st.st_mtime_ns)
    return out


def xml(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def test_first_pass_caches_every_image_under_spec_names(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    summary = run(make_config(tmp_path, fake), clock)
    images = tree / ".images"
    expected = {
        f"profiles/profile_avatar_{uid}.jpg" for uid in (ALICE_ID, BOB_ID, CHLOE_ID, DANA_ID)
    } | {
        "categories/just_chatting.jpg",
        "categories/league_of_legends.jpg",
        "categories/pokemon_scarlet_violet.jpg",
        f"artwork/{ALICE_ID}/stream_40000000001.jpg",  # Helix video thumbnail
        f"artwork/{ALICE_ID}/stream_40000000002.jpg",
        f"artwork/{ALICE_ID}/stream_40000000003.jpg",  # local -thumb.png, converted
        f"artwork/{BOB_ID}/stream_40000000004.jpg",  # yt-dlp thumbnail; its video gives the id
        f"backdrops/offline_{ALICE_ID}.jpg",  # Helix offline image: the show's fanart
    }
    found = {str(p.relative_to(images)) for p in images.rglob("*") if p.is_file()}
    assert found == expected
    for rel in found:
        data = (images / rel).read_bytes()
        assert sniff(data) == "jpeg", rel
        with Image.open(images / rel) as img:
            img.load()
        assert (images / rel).stat().st_mode & 0o777 == 0o644
    assert (images / "profiles").stat().st_mode & 0o777 == 0o755
    assert len(summary.cached) == len(expected)
    assert summary.failed == 0
    assert summary.errors == 0
    assert summary.pending == 1  # dana's recording is still being written
    # users + games, one call each (batched), plus one videos call for Alice (a stream
    # without a thumbnail) and one for Bob (his yt-dlp VOD's video id gives its stream id)
    assert fake.hits["users"] == 1
    assert fake.hits["games"] == 1
    assert fake.hits["videos"] == 2


def test_first_pass_writes_tvshow_and_episode_nfos(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    run(make_config(tmp_path, fake), clock)
    images = tree / ".images"
    show = xml(tree / "Alice Plays" / "tvshow.nfo")
    assert show.tag == "tvshow"
    assert show.findtext("title") == "Alice Plays"
    assert show.findtext("plot") == "Cozy games and chat."
    assert show.find("uniqueid[@type='twitch']").text == ALICE_ID  # type: ignore[union-attr]
    poster = show.find("thumb[@aspect='poster']")
    assert poster is not None
    assert poster.text == str(images / f"profiles/profile_avatar_{ALICE_ID}.jpg")

    episode = xml(tree / (ALICE.format(n=1, title=TITLES[1]) + ".nfo"))
    assert episode.tag == "episodedetails"
    assert episode.findtext("title") == "Morning coffee & chat"
    assert episode.findtext("showtitle") == "Alice Plays"
    assert episode.findtext("season") == "202611"
    assert episode.findtext("episode") == "1"
    assert episode.findtext("aired") == "2026-11-01"
    assert episode.findtext("genre") == "Just Chatting"
    assert episode.findtext("studio") == "Twitch"
    assert episode.findtext("uniqueid") == "40000000001"
    assert episode.findtext("thumb") == str(images / f"artwork/{ALICE_ID}/stream_40000000001.jpg")

    # Dana's recording is still being written: no episode NFO yet, but the show and avatar.
    assert not list((tree / "dana_draws").rglob("*S202611E01*.nfo"))
    assert (tree / "dana_draws" / "tvshow.nfo").is_file()
    assert (images / f"profiles/profile_avatar_{DANA_ID}.jpg").is_file()


def test_existing_nfos_are_merged_not_clobbered(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    run(make_config(tmp_path, fake), clock)
    merged = (tree / (ALICE.format(n=2, title=TITLES[2]) + ".nfo")).read_text()
    assert "<!-- written by StreamVault; svimaged keeps this comment -->" in merged
    assert "<userrating>9</userrating>" in merged
    assert "<plot>Climbing to gold &amp; beyond.</plot>" in merged
    assert "../../.media" not in merged  # the relative thumb is replaced by an absolute one
    assert merged.index("<title>") < merged.index("<!--") < merged.index("<userrating>")
    chloe = xml(tree / "Chloé Café" / "tvshow.nfo")
    assert chloe.findtext("tag") == "my favourite"
    assert chloe.findtext("title") == "Chloé Café"
    assert [u.text for u in chloe.iter("uniqueid")] == [CHLOE_ID]


def test_second_pass_downloads_nothing_and_writes_nothing(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake)
    run(config, clock)
    clock.advance(60)
    live = next(tree.glob("dana_draws/*/*.mp4"))
    with live.open("ab") as recording:  # dana's stream is still being recorded
        recording.write(b"more video")
    os.utime(live, (clock.time(), clock.time()))
    before = snapshot(tree)
    hits = dict(fake.hits)
    served = fake.bytes_served
    second = run(config, clock)
    assert snapshot(tree) == before
    assert dict(fake.hits) == hits  # no Helix call, no CDN request at all
    assert fake.bytes_served == served
    assert second.cached == [] and second.nfo_written == []
    # Only the folder with a recording still being written is looked at again (its
    # tvshow.nfo merges to the same bytes); nothing else is even read.
    assert second.nfo_unchanged == 1
    assert second.pending == 1


def test_refresh_interval_revalidates_with_conditional_gets(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake, refresh_interval=3600)
    run(config, clock)
    cdn = fake.hits["cdn"]
    clock.advance(7200)
    summary = run(config, clock)
    assert fake.hits["cdn_304"] == 11  # every downloaded image; the imported thumb is local
    # The only full download: Dana's recording has finished meanwhile and gets its artwork.
    assert fake.hits["cdn"] == cdn + 1
    assert summary.cached == [str(tree / ".images" / f"artwork/{DANA_ID}/stream_40000000006.jpg")]
    assert summary.refreshed == 11


def test_changed_image_upstream_is_replaced_on_refresh(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake, refresh_interval=3600)
    run(config, clock)
    target = tree / ".images" / f"profiles/profile_avatar_{BOB_ID}.jpg"
    old = target.read_bytes()
    from svimaged.demo.pictures import make_png

    fake.set_image(fake.url_for("profile", BOB_ID), make_png(64, 64, seed=999), "image/png")
    clock.advance(7200)
    summary = run(config, clock)
    assert str(target) in summary.cached
    assert target.read_bytes() != old
    assert sniff(target.read_bytes()) == "jpeg"


def test_html_instead_of_image_fails_cleanly_and_is_retried_later(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    fake.serve_html_for(fake.url_for("profile", BOB_ID))
    config = make_config(tmp_path, fake, retry={"initial": 60, "max": 3600})
    first = run(config, clock)
    target = tree / ".images" / f"profiles/profile_avatar_{BOB_ID}.jpg"
    assert first.failed == 1
    assert not target.exists()
    assert not list(target.parent.glob(".*svimaged-tmp*"))
    bob_show = (tree / "Bob Speedruns" / "tvshow.nfo").read_text()
    assert "profile_avatar" not in bob_show  # http fake URL is not https: not referenced
    # Within the backoff: not retried.
    clock.advance(30)
    cdn = fake.hits["cdn"]
    assert run(config, clock).failed == 0
    assert fake.hits["cdn"] == cdn
    # After the backoff, with the CDN fixed: cached and referenced.
    from svimaged.demo.pictures import make_jpeg

    fake.set_image(fake.url_for("profile", BOB_ID), make_jpeg(64, 64, seed=5))
    clock.advance(61)
    third = run(config, clock)
    assert str(target) in third.cached
    assert str(target) in (tree / "Bob Speedruns" / "tvshow.nfo").read_text()


def test_no_credentials_runs_locally_and_reports_what_needs_them(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake, twitch={"client_id": "", "client_secret": ""})
    summary = run(config, clock)
    assert fake.hits["users"] == fake.hits["games"] == fake.hits["token"] == 0
    assert summary.needs_credentials > 0
    assert "needs credentials" in summary.line()
    # Chloé's user id is known from her tvshow.nfo, but the avatar URL needs Helix;
    # every streamer still gets a tvshow.nfo and every finished recording an NFO.
    assert len(list(tree.rglob("tvshow.nfo"))) == 5
    episode = xml(tree / (ALICE.format(n=1, title=TITLES[1]) + ".nfo"))
    assert episode.findtext("title") == "Morning coffee & chat"
    assert episode.findtext("genre") == "Just Chatting"


def test_path_map_rewrites_references_for_the_media_server(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake, nfo={"path_map": [{"from": str(tree), "to": "/data/tv"}]})
    run(config, clock)
    show = xml(tree / "Alice Plays" / "tvshow.nfo")
    poster = show.find("thumb[@aspect='poster']")
    assert poster is not None
    assert poster.text == f"/data/tv/.images/profiles/profile_avatar_{ALICE_ID}.jpg"


def test_malformed_nfo_is_left_byte_for_byte_and_counted(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock, caplog: Any
) -> None:
    bad = tree / (ALICE.format(n=1, title=TITLES[1]) + ".nfo")
    payload = b"<episodedetails><title>broken & not xml</episodedetails>"
    bad.write_bytes(payload)
    config = make_config(tmp_path, fake)
    with caplog.at_level(logging.WARNING):
        summary = run(config, clock)
        run(config, clock)
    assert bad.read_bytes() == payload
    assert summary.errors >= 1
    mentions = [r for r in caplog.records if str(bad) in r.getMessage()]
    assert len(mentions) == 1  # logged once over two passes
    res = build_resources(config, clock)
    try:
        stats = res.state.stats(clock.time())
    finally:
        res.close()
    assert stats["nfo"]["errors"] == 1  # type: ignore[index]


def test_locked_nfo_is_not_touched(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    locked = tree / "Alice Plays" / "tvshow.nfo"
    payload = b"<tvshow><title>Mine</title><lockdata>true</lockdata></tvshow>"
    locked.write_bytes(payload)
    run(make_config(tmp_path, fake), clock)
    assert locked.read_bytes() == payload


def test_conflicting_login_uses_info_json_and_logs_once(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock, caplog: Any
) -> None:
    root = tmp_path / "rec"
    folder = root / "Alice Plays"
    folder.mkdir(parents=True)
    stem = "someone_else - S202611E09 - Mislabelled"
    video = folder / f"{stem}.mp4"
    video.write_bytes(b"x")
    (folder / f"{stem}.info.json").write_text(
        json.dumps({"twitch_id": "40000000001", "streamer": {"username": "alice_plays"}})
    )
    os.utime(video, (clock.time() - 3600,) * 2)
    config = make_config(tmp_path, fake)
    with caplog.at_level(logging.WARNING):
        run(config, clock)
        run(config, clock)
    conflicts = [r for r in caplog.records if "conflict" in r.getMessage()]
    assert len(conflicts) == 1
    assert "alice_plays" in conflicts[0].getMessage()
    assert (root / ".images" / f"profiles/profile_avatar_{ALICE_ID}.jpg").is_file()


def test_unreadable_metadata_is_logged_and_skipped(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock, caplog: Any
) -> None:
    root = tmp_path / "rec"
    folder = root / "alice_plays"
    folder.mkdir(parents=True)
    for n, payload in enumerate([b"{broken json", b"\xff\xfe not utf-8", b"[1, 2]"]):
        stem = f"alice_plays - S202611E0{n + 1} - Bad {n}"
        (folder / f"{stem}.mp4").write_bytes(b"x")
        (folder / f"{stem}.info.json").write_bytes(payload)
        os.utime(folder / f"{stem}.mp4", (clock.time() - 3600,) * 2)
    with caplog.at_level(logging.WARNING):
        summary = run(make_config(tmp_path, fake), clock)
    assert summary.errors == 3
    assert len(list(folder.glob("*S2026*.nfo"))) == 3  # the pass went on from the names
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Bad 0.info.json" in logged and "Bad 2.info.json" in logged


def test_hostile_names_never_leave_the_tree(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    root = tmp_path / "rec"
    folder = root / "alice_plays"
    folder.mkdir(parents=True)
    stem = "alice_plays - S202611E01 - ..\\..\\evil\nline"
    (folder / f"{stem}.mp4").write_bytes(b"x")
    (folder / f"{stem}.info.json").write_text(
        json.dumps(
            {
                "twitch_id": "../../../etc/passwd",
                "id": "a/b",
                "streamer": {"username": "alice_plays"},
                "category": "../../x",
                "title": "t",
            }
        )
    )
    os.utime(folder / f"{stem}.mp4", (clock.time() - 3600,) * 2)
    run(make_config(tmp_path, fake), clock)
    outside = {p for p in tmp_path.rglob("*")} - {p for p in root.rglob("*")}
    assert all(p.is_relative_to(tmp_path / "state") or p == root for p in outside)
    artwork = (
        list((root / ".images" / "artwork").rglob("*.jpg"))
        if (root / ".images" / "artwork").exists()
        else []
    )
    for path in artwork:
        assert path.parent.parent == root / ".images" / "artwork"
    assert (folder / f"{stem}.nfo").is_file()


def test_helix_batches_users_100_per_call(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    streamers = [(str(20_000_000 + n), f"user_{n:03d}", f"User {n:03d}") for n in range(250)]
    for uid, login, name in streamers:
        fake.add_user(uid, login, name)
    generate_tree(
        tmp_path / "rec",
        recordings=250,
        streamers=streamers,
        categories=["Just Chatting", "League of Legends"],
        now=clock.time(),
    )
    summary = run(make_config(tmp_path, fake), clock)
    assert fake.hits["users"] == 3
    assert fake.hits["games"] == 1
    assert len([p for p in summary.cached if "/profiles/" in p]) == 250


def test_missing_recordings_root_cannot_run(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    with pytest.raises(MetadataError, match="does not exist"):
        run(make_config(tmp_path, fake), clock)


def test_state_file_lost_rebuilds_without_rewriting(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    config = make_config(tmp_path, fake)
    run(config, clock)
    before = snapshot(tree)
    for name in os.listdir(tmp_path / "state"):
        os.unlink(tmp_path / "state" / name)
    summary = run(config, clock)
    assert summary.nfo_written == []  # same bytes as before
    assert snapshot(tree) == before  # identical downloads are not rewritten either
    assert summary.failed == 0


def test_retry_failed_now_ignores_backoff(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    fake.fail("cdn", 503, times=1)
    config = make_config(tmp_path, fake)
    first = run(config, clock)
    assert first.failed == 1
    res = build_resources(config, clock)
    try:
        again = Pass(res, retry_failed_now=True).run()
    finally:
        res.close()
    assert again.failed == 0 and len(again.cached) == 1


def test_category_slug_collisions_never_share_a_file(
    tmp_path: Path, fake: FakeTwitch, clock: FakeClock
) -> None:
    (tmp_path / "rec").mkdir()
    res = build_resources(make_config(tmp_path, fake), clock)
    try:
        first = category_slug_for(res.state, "Foo 1", "7")
        second = category_slug_for(res.state, "FOO!", "2")
        third = category_slug_for(res.state, "Foo", "1")  # "foo" and "foo_1" are both taken
        again = res.state.twitch.category_slug("Foo")
    finally:
        res.close()
    assert (first, second) == ("foo_1", "foo")
    assert third.startswith("foo_") and third not in (first, second)
    assert again == third


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("profile", f"profiles/profile_avatar_{ALICE_ID}.jpg"),
        # Alice's season 202611: Just Chatting, League of Legends, Pokémon once each; the
        # first most used wins deterministically by Counter order (first seen).
        ("category", "categories/just_chatting.jpg"),
        ("none", None),
    ],
)
def test_season_art_goes_into_tvshow_nfo_never_into_files(
    tree: Path,
    tmp_path: Path,
    fake: FakeTwitch,
    clock: FakeClock,
    mode: str,
    expected: str | None,
) -> None:
    run(make_config(tmp_path, fake, nfo={"season_poster": mode}), clock)
    show = xml(tree / "Alice Plays" / "tvshow.nfo")
    seasons = show.findall("thumb[@type='season']")
    if expected is None:
        assert seasons == []
    else:
        assert [(t.get("season"), t.get("aspect"), t.text) for t in seasons] == [
            ("202611", "poster", str(tree / ".images" / expected))
        ]
    assert not [p for p in tree.rglob("season*-poster.jpg")]


def test_nfo_renames_are_made_durable_once_per_folder(
    tree: Path, tmp_path: Path, fake: FakeTwitch, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import svimaged.core.atomic
    import svimaged.outputs.apply

    batched: list[Path] = []
    per_write: list[Path] = []
    real_batch = svimaged.outputs.apply.Folders.sync
    real = svimaged.core.atomic.fsync_dir

    def batch(self: Any, folder: str) -> None:
        batched.append(Path(folder))
        real_batch(self, folder)

    monkeypatch.setattr(svimaged.outputs.apply.Folders, "sync", batch)
    monkeypatch.setattr(svimaged.core.atomic, "fsync_dir", lambda p: (per_write.append(p), real(p)))
    summary = run(make_config(tmp_path, fake), clock)
    nfo_folders = {Path(p).parent for p in summary.nfo_written}
    assert len(summary.nfo_written) == 13  # 5 tvshow, 6 episode, 2 season.nfo
    assert sorted(batched) == sorted(nfo_folders)  # once per folder, not once per NFO
    assert not nfo_folders & set(per_write)  # image writes still sync their own folder
