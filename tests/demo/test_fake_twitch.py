"""The fake Twitch must look like the real one, or tests built on it prove nothing."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests
from PIL import Image

from svimaged.demo import pictures as images
from svimaged.demo.fake_twitch import (
    ALICE_ID,
    CHLOE_ID,
    DANA_ID,
    EVE_ID,
    JUST_CHATTING_ID,
    NO_ART_GAME_ID,
    POKEMON_SV_ID,
    SAMPLE_GAMES,
    SAMPLE_USERS,
    SAMPLE_VIDEOS,
    FakeTwitch,
)

USER_KEYS = {
    "id", "login", "display_name", "type", "broadcaster_type", "description",
    "profile_image_url", "offline_image_url", "view_count", "created_at",
}  # fmt: skip
VIDEO_KEYS = {
    "id", "stream_id", "user_id", "user_login", "user_name", "title", "description",
    "created_at", "published_at", "url", "thumbnail_url", "viewable", "view_count",
    "language", "type", "duration", "muted_segments",
}  # fmt: skip


@pytest.fixture
def http(fake: FakeTwitch) -> Iterator[requests.Session]:
    """A session already holding a valid app token for `fake`."""
    form = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "grant_type": "client_credentials",
    }
    answer = requests.post(fake.auth_url, data=form, timeout=5)
    assert answer.status_code == 200
    session = requests.Session()
    session.headers.update(
        {"Client-Id": fake.client_id, "Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    yield session
    session.close()


def test_token_shape_and_refusals(fake: FakeTwitch) -> None:
    good = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    ok = requests.post(fake.auth_url, data={**good, "grant_type": "client_credentials"}, timeout=5)
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    wrong_secret = {**good, "client_secret": "nope", "grant_type": "client_credentials"}
    assert requests.post(fake.auth_url, data=wrong_secret, timeout=5).status_code == 403
    wrong_id = {**good, "client_id": "nope", "grant_type": "client_credentials"}
    assert requests.post(fake.auth_url, data=wrong_id, timeout=5).status_code == 400
    assert requests.post(fake.auth_url, data=good, timeout=5).status_code == 400
    assert fake.hits["token"] == 4


def test_helix_requires_client_id_and_valid_bearer(
    fake: FakeTwitch, http: requests.Session
) -> None:
    url = f"{fake.api_base}/users?id={ALICE_ID}"
    assert requests.get(url, timeout=5).status_code == 401
    no_client = requests.get(
        url, headers={"Authorization": http.headers["Authorization"]}, timeout=5
    )
    assert no_client.status_code == 401
    assert http.get(url).status_code == 200
    fake.expire_tokens()
    answer = http.get(url)
    assert answer.status_code == 401 and answer.json()["status"] == 401


def test_users_shape(fake: FakeTwitch, http: requests.Session) -> None:
    answer = http.get(f"{fake.api_base}/users", params=[("id", ALICE_ID), ("login", "Chloe_Cafe")])
    assert answer.status_code == 200
    for header in ("Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"):
        assert answer.headers[header].isdigit()
    data = {u["id"]: u for u in answer.json()["data"]}
    assert set(data) == {ALICE_ID, CHLOE_ID}
    assert all(set(u) == USER_KEYS for u in data.values())
    assert data[CHLOE_ID]["display_name"] == "Chloé Café"
    assert data[CHLOE_ID]["offline_image_url"] == ""
    assert data[ALICE_ID]["offline_image_url"].startswith(fake.base_url + "/cdn/")
    assert data[ALICE_ID]["profile_image_url"] == fake.url_for("profile", ALICE_ID)
    eve = http.get(f"{fake.api_base}/users", params={"id": EVE_ID}).json()["data"][0]
    assert eve["profile_image_url"] == ""


def test_more_than_100_ids_is_400(fake: FakeTwitch, http: requests.Session) -> None:
    params = [("id", str(n)) for n in range(60)] + [("login", f"u{n}") for n in range(41)]
    assert http.get(f"{fake.api_base}/users", params=params).status_code == 400
    assert http.get(f"{fake.api_base}/users", params=params[:100]).status_code == 200
    names = [("name", f"g{n}") for n in range(101)]
    assert http.get(f"{fake.api_base}/games", params=names).status_code == 400
    assert http.get(f"{fake.api_base}/users").status_code == 400


def test_games_shape_and_placeholder(fake: FakeTwitch, http: requests.Session) -> None:
    params = [("name", "Pokémon Scarlet/Violet"), ("id", JUST_CHATTING_ID), ("id", NO_ART_GAME_ID)]
    data = {g["id"]: g for g in http.get(f"{fake.api_base}/games", params=params).json()["data"]}
    assert set(data) == {POKEMON_SV_ID, JUST_CHATTING_ID, NO_ART_GAME_ID}
    assert all(set(g) == {"id", "name", "box_art_url", "igdb_id"} for g in data.values())
    assert data[JUST_CHATTING_ID]["box_art_url"].endswith(
        f"/{JUST_CHATTING_ID}-{{width}}x{{height}}.jpg"
    )
    assert "/404_boxart-{width}x{height}" in data[NO_ART_GAME_ID]["box_art_url"]
    placeholder = requests.get(fake.url_for("404_boxart", "x"), timeout=5)
    assert placeholder.status_code == 200 and placeholder.content[:2] == b"\xff\xd8"


def test_videos_shape_and_pagination(fake: FakeTwitch, http: requests.Session) -> None:
    url = f"{fake.api_base}/videos"
    first = http.get(url, params={"user_id": ALICE_ID, "type": "archive", "first": "2"}).json()
    assert [v["id"] for v in first["data"]] == ["2000000003", "2000000002"]  # newest first
    assert all(set(v) == VIDEO_KEYS for v in first["data"])
    video = first["data"][0]
    assert video["stream_id"] == "40000000003" and video["user_login"] == "alice_plays"
    assert video["thumbnail_url"].endswith("/thumb0-%{width}x%{height}.jpg")
    cursor = first["pagination"]["cursor"]
    second = http.get(url, params={"user_id": ALICE_ID, "first": "2", "after": cursor}).json()
    assert [v["id"] for v in second["data"]] == ["2000000001"]
    assert second["pagination"] == {}
    assert http.get(url, params={"user_id": ALICE_ID, "first": "101"}).status_code == 400
    assert http.get(url, params={"user_id": ALICE_ID, "after": "!!bad"}).status_code == 400
    assert http.get(url, params={"first": "5"}).status_code == 400
    assert fake.hits["videos"] == 5


def test_processing_video_has_404_thumbnail(fake: FakeTwitch, http: requests.Session) -> None:
    data = http.get(f"{fake.api_base}/videos", params={"user_id": CHLOE_ID}).json()["data"]
    processing = [v for v in data if v["stream_id"] is None]
    assert len(processing) == 1 and "_404/" in processing[0]["thumbnail_url"]


def test_cdn_serves_each_format(fake: FakeTwitch) -> None:
    magic = {ALICE_ID: b"\x89PNG", CHLOE_ID: b"RIFF", DANA_ID: b"GIF8"}
    for uid, prefix in magic.items():
        answer = requests.get(fake.url_for("profile", uid), timeout=5)
        assert answer.status_code == 200 and answer.content.startswith(prefix)
        assert answer.headers["Content-Type"].startswith("image/")
    with Image.open(
        io.BytesIO(requests.get(fake.url_for("profile", DANA_ID), timeout=5).content)
    ) as gif:
        assert getattr(gif, "n_frames", 1) > 1
    assert requests.get(fake.url_for("profile", EVE_ID), timeout=5).status_code == 404
    assert requests.get(fake.url_for("box_art", NO_ART_GAME_ID), timeout=5).status_code == 404
    assert requests.get(f"{fake.base_url}/cdn/nothing.jpg", timeout=5).status_code == 404
    assert requests.get(f"{fake.base_url}/elsewhere", timeout=5).status_code == 404


def test_cdn_conditional_get(fake: FakeTwitch) -> None:
    url = fake.url_for("box_art", JUST_CHATTING_ID)
    first = requests.get(url, timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert fake.bytes_served == len(first.content) > 0
    again = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    since = requests.get(url, headers={"If-Modified-Since": modified}, timeout=5)
    assert since.status_code == 304
    older = formatdate(0, usegmt=True)
    assert requests.get(url, headers={"If-Modified-Since": older}, timeout=5).status_code == 200
    other = requests.get(url, headers={"If-None-Match": '"other"'}, timeout=5)
    assert other.status_code == 200
    assert fake.hits["cdn"] == 3 and fake.hits["cdn_304"] == 2
    assert fake.bytes_served == 3 * len(first.content)


def test_set_image_changes_validators(fake: FakeTwitch) -> None:
    url = fake.url_for("thumbnail", "2000000001")
    first = requests.get(url, timeout=5)
    new = images.make_png(10, 10, seed=99)
    fake.set_image(url, new, "image/png")
    answer = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert answer.status_code == 200 and answer.content == new
    assert answer.headers["ETag"] != first.headers["ETag"]
    stale = requests.get(
        url, headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=5
    )
    assert stale.status_code == 200


def test_serve_html_for(fake: FakeTwitch) -> None:
    path = "/cdn/ttv-boxart/21779-285x380.jpg"
    fake.serve_html_for(path)
    answer = requests.get(fake.base_url + path, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.content.startswith(b"<html>")


def test_fail_injects_status_then_recovers(fake: FakeTwitch, http: requests.Session) -> None:
    fake.fail("users", 429, times=2, headers={"Ratelimit-Reset": "123"})
    fake.fail("cdn", 503)
    url = f"{fake.api_base}/users?id={ALICE_ID}"
    answers = [http.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Ratelimit-Reset"] == "123"
    image = fake.url_for("profile", ALICE_ID)
    assert [requests.get(image, timeout=5).status_code for _ in range(2)] == [503, 200]
    assert fake.hits["users"] == 3 and fake.hits["cdn"] == 2


def test_rate_limit_exhaustion_answers_429(fake: FakeTwitch, http: requests.Session) -> None:
    fake.helix.rate_limit = 2
    url = f"{fake.api_base}/games?id={JUST_CHATTING_ID}"
    answers = [http.get(url) for _ in range(3)]
    assert [a.headers["Ratelimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert [a.status_code for a in answers] == [200, 200, 429]


def test_latency_delays_answers() -> None:
    with FakeTwitch(latency=0.15) as fake:
        started = time.monotonic()
        requests.get(f"{fake.base_url}/cdn/missing.jpg", timeout=5)
        assert time.monotonic() - started >= 0.15


def test_lifecycle() -> None:
    fake = FakeTwitch()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    fake.start()
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.host == "127.0.0.1"
    assert fake.api_base == fake.base_url + "/helix"
    assert fake.auth_url == fake.base_url + "/oauth2/token"
    fake.stop()
    fake.stop()
    with FakeTwitch() as other, pytest.raises(KeyError):
        other.url_for("banner", "1")


def test_sample_library_constants() -> None:
    names = [name for _, name in SAMPLE_GAMES]
    assert {"Just Chatting", "League of Legends", "Pokémon Scarlet/Violet"} <= set(names)
    assert any(not display.isascii() for _, _, display in SAMPLE_USERS)
    assert any(" " in display for _, _, display in SAMPLE_USERS)
    assert all(uid.isdigit() and uid.startswith("1000000") for uid, _, _ in SAMPLE_USERS)
    user_ids = {uid for uid, _, _ in SAMPLE_USERS}
    assert all(v[1] in user_ids and v[2].isdigit() for v in SAMPLE_VIDEOS)


def test_generated_images_are_deterministic() -> None:
    assert images.make_jpeg(30, 20, seed=1) == images.make_jpeg(30, 20, seed=1)
    assert images.make_jpeg(30, 20, seed=1) != images.make_jpeg(30, 20, seed=2)
    for data, fmt in [
        (images.make_png(30, 20, 3), "PNG"),
        (images.make_jpeg(30, 20, 3), "JPEG"),
        (images.make_webp(30, 20, 3), "WEBP"),
        (images.make_gif_animated(30, 20, 3), "GIF"),
    ]:
        with Image.open(io.BytesIO(data)) as img:
            assert (img.format, img.size) == (fmt, (30, 20))
    with pytest.raises(ValueError):
        images.make_png(0, 10)
    with pytest.raises(ValueError):
        images.make_image("BMP", 10, 10)


def test_port_is_reused_or_falls_back() -> None:
    with FakeTwitch() as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with FakeTwitch(port=port) as second:  # taken: falls back to a free port
            assert second.base_url != first.base_url
    with FakeTwitch(port=port) as third:  # free again: reused
        assert third.base_url == f"http://127.0.0.1:{port}"
