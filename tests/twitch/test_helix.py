"""HelixClient against pytest-httpserver (exact control of answers) and FakeTwitch (shapes)."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from svimaged.core.clock import FakeClock
from svimaged.core.errors import HelixError, NeedsCredentialsError, RateLimitedError
from svimaged.demo.fake_twitch import (
    ALICE_ID,
    CHLOE_ID,
    JUST_CHATTING_ID,
    NO_ART_GAME_ID,
    FakeTwitch,
    sample_library,
)
from svimaged.twitch.answers import (
    BOX_ART_SIZE,
    THUMBNAIL_SIZE,
    box_art_url,
    data_list,
    decode_object,
    fill_template,
    next_cursor,
    parse_token,
    parse_user,
)
from svimaged.twitch.helix import HelixClient, WaitBudget

SECRET = "s3cr3t-client-secret-value"
CLIENT_ID = "client-id-123"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> Iterator[FakeTwitch]:
    with FakeTwitch(client_id=CLIENT_ID, client_secret=SECRET) as server:
        sample_library(server)
        yield server


def make_client(server: HTTPServer, clock: FakeClock, **kwargs: Any) -> HelixClient:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "api_base": server.url_for("/helix"),
        "auth_url": server.url_for("/oauth2/token"),
        "clock": clock,
    }
    options.update(kwargs)
    return HelixClient(**options)


def fake_client(fake: FakeTwitch, clock: FakeClock | None = None) -> HelixClient:
    return HelixClient(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        api_base=fake.api_base,
        auth_url=fake.auth_url,
        clock=clock or FakeClock(),
    )


def serve_tokens(server: HTTPServer, expires_in: int = 3600) -> None:
    """Token endpoint issuing tok-1, tok-2, ... for the right credentials only."""
    counter = itertools.count(1)

    def handler(request: Request) -> Response:
        form = request.form
        if form.get("client_secret") != SECRET or form.get("grant_type") != "client_credentials":
            return Response('{"status":403,"message":"invalid client secret"}', status=403)
        body = {"access_token": f"tok-{next(counter)}", "expires_in": expires_in}
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/oauth2/token", method="POST").respond_with_handler(handler)


def user_json(uid: str, login: str) -> dict[str, Any]:
    return {
        "id": uid,
        "login": login,
        "display_name": login.title(),
        "description": "",
        "profile_image_url": f"https://static-cdn.jtvnw.net/u/{uid}.png",
        "offline_image_url": "",
    }


def helix_requests(server: HTTPServer, endpoint: str) -> list[Request]:
    return [req for req, _ in server.log if req.path == f"/helix/{endpoint}"]


def token_requests(server: HTTPServer) -> list[Request]:
    return [req for req, _ in server.log if req.path == "/oauth2/token"]


# -- templates -------------------------------------------------------------------------------


def test_fill_template_fills_both_styles() -> None:
    boxart = "https://static-cdn.jtvnw.net/ttv-boxart/509658-{width}x{height}.jpg"
    thumb = "https://static-cdn.jtvnw.net/cf_vods/x/thumb/thumb0-%{width}x%{height}.jpg"
    assert fill_template(boxart, 285, 380).endswith("/509658-285x380.jpg")
    assert fill_template(thumb, 1280, 720).endswith("/thumb0-1280x720.jpg")
    assert fill_template("https://x/plain.jpg", 1, 2) == "https://x/plain.jpg"


def test_box_art_url_treats_placeholder_and_empty_as_none() -> None:
    assert box_art_url(None) is None
    assert box_art_url("") is None
    assert (
        box_art_url("https://static-cdn.jtvnw.net/ttv-static/404_boxart-{width}x{height}.jpg")
        is None
    )
    url = box_art_url("https://static-cdn.jtvnw.net/ttv-boxart/21779-{width}x{height}.jpg")
    assert url == "https://static-cdn.jtvnw.net/ttv-boxart/21779-{}x{}.jpg".format(*BOX_ART_SIZE)


# -- token -----------------------------------------------------------------------------------


def test_token_cached_across_calls(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"data": [user_json("1", "a")]})
    client = make_client(httpserver, clock)
    client.users(ids=["1"])
    client.users(logins=["a"])
    assert client.token_requests == 1
    assert len(token_requests(httpserver)) == 1
    assert client.calls == 2
    sent = helix_requests(httpserver, "users")[0]
    assert sent.headers["Client-Id"] == CLIENT_ID
    assert sent.headers["Authorization"] == "Bearer tok-1"
    form = token_requests(httpserver)[0].form
    assert form["client_id"] == CLIENT_ID and form["grant_type"] == "client_credentials"


def test_token_refreshed_after_expiry_minus_margin(
    httpserver: HTTPServer, clock: FakeClock
) -> None:
    serve_tokens(httpserver, expires_in=3600)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    client = make_client(httpserver, clock)
    client.users(ids=["1"])
    clock.advance(3600 - 60 - 1)
    client.users(ids=["1"])
    assert client.token_requests == 1
    clock.advance(2)
    client.users(ids=["1"])
    assert client.token_requests == 2
    assert helix_requests(httpserver, "users")[-1].headers["Authorization"] == "Bearer tok-2"


def test_401_refreshes_token_once_and_retries(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_oneshot_request("/helix/users").respond_with_json({"message": "x"}, 401)
    httpserver.expect_request("/helix/users").respond_with_json({"data": [user_json("7", "g")]})
    client = make_client(httpserver, clock)
    users = client.users(ids=["7"])
    assert [u.id for u in users] == ["7"]
    assert client.token_requests == 2
    sent = helix_requests(httpserver, "users")
    assert [r.headers["Authorization"] for r in sent] == ["Bearer tok-1", "Bearer tok-2"]


def test_second_401_raises(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"message": "bad"}, 401)
    client = make_client(httpserver, clock)
    with pytest.raises(HelixError, match="status=401"):
        client.users(ids=["7"])
    assert client.token_requests == 2
    assert len(helix_requests(httpserver, "users")) == 2


def test_refused_token_is_helix_error_without_secret(
    httpserver: HTTPServer, clock: FakeClock
) -> None:
    echo = {"status": 403, "message": f"invalid client secret {SECRET}"}
    httpserver.expect_request("/oauth2/token").respond_with_json(echo, 403)
    client = make_client(httpserver, clock)
    with pytest.raises(HelixError) as info:
        client.users(ids=["1"])
    assert "status=403" in str(info.value)
    assert SECRET not in str(info.value)
    assert not helix_requests(httpserver, "users")


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"expires_in": 10}', b"[]"])
def test_bad_token_answer_is_helix_error(
    httpserver: HTTPServer, clock: FakeClock, body: bytes
) -> None:
    httpserver.expect_request("/oauth2/token").respond_with_data(body, content_type="text/html")
    with pytest.raises(HelixError):
        make_client(httpserver, clock).users(ids=["1"])


# -- batching --------------------------------------------------------------------------------


def test_250_logins_take_three_calls(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    client = make_client(httpserver, clock)
    logins = [f"Streamer_{n}" for n in range(250)] + ["streamer_0", "STREAMER_1"]  # dupes
    client.users(logins=logins)
    sent = helix_requests(httpserver, "users")
    assert len(sent) == 3
    assert [len(r.args.getlist("login")) for r in sent] == [100, 100, 50]
    assert sent[0].args.getlist("login")[0] == "streamer_0"


def test_ids_and_logins_share_the_100_budget(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    client = make_client(httpserver, clock)
    ids = [str(1000 + n) for n in range(150)] + ["abc", "12x", "", "1000"]  # bad ids, a dupe
    client.users(ids=ids, logins=[f"l{n}" for n in range(60)])
    sent = helix_requests(httpserver, "users")
    sizes = [len(r.args.getlist("id")) + len(r.args.getlist("login")) for r in sent]
    assert sizes == [100, 100, 10]
    assert all(i.isdigit() for r in sent for i in r.args.getlist("id"))


def test_only_invalid_ids_send_nothing(httpserver: HTTPServer, clock: FakeClock) -> None:
    client = make_client(httpserver, clock)
    assert client.users(ids=["abc", "../1"]) == []
    assert client.videos("not-a-number") == []
    assert client.calls == 0 and not httpserver.log


def test_games_batched_and_placeholder_is_none(fake: FakeTwitch) -> None:
    client = fake_client(fake)
    names = ["Just Chatting", "Obscure Jam Game"] + [f"Game {n}" for n in range(150)]
    games = {g.id: g for g in client.games(names=names)}
    assert fake.hits["games"] == 2
    assert games[NO_ART_GAME_ID].box_art_url is None
    art = games[JUST_CHATTING_ID].box_art_url
    assert art is not None and art.endswith(f"/{JUST_CHATTING_ID}-285x380.jpg")


def test_game_names_are_sent_as_is(fake: FakeTwitch) -> None:
    client = fake_client(fake)
    games = client.games(names=["Pokémon Scarlet/Violet", "League of Legends & Co"])
    assert [g.name for g in games] == ["Pokémon Scarlet/Violet"]


def test_users_from_fake(fake: FakeTwitch) -> None:
    client = fake_client(fake)
    users = {u.id: u for u in client.users(ids=[ALICE_ID], logins=["Chloe_Cafe", "alice_plays"])}
    assert set(users) == {ALICE_ID, CHLOE_ID}
    assert users[CHLOE_ID].display_name == "Chloé Café"
    assert users[CHLOE_ID].offline_image_url is None
    assert users[ALICE_ID].offline_image_url is not None
    assert fake.hits["users"] == 1


def test_videos_follow_pagination_and_fill_thumbnails(fake: FakeTwitch) -> None:
    for n in range(250):
        fake.add_video(str(3_000_000 + n), "555", str(9_000_000 + n), f"v{n}")
    fake.add_video("3999999", "555", None, "processing", "2030-01-01T00:00:00Z", thumbnail=False)
    client = fake_client(fake)
    videos = client.videos("555")
    assert len(videos) == 251 and fake.hits["videos"] == 3
    assert videos[0].thumbnail_url is None and videos[0].stream_id is None
    assert videos[1].thumbnail_url is not None
    assert videos[1].thumbnail_url.endswith("-{}x{}.jpg".format(*THUMBNAIL_SIZE))
    assert videos[1].created_at is not None and videos[1].created_at.tzinfo is not None
    assert len(client.videos("555", max_pages=2)) == 200


def test_videos_query_shape(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    page = {"data": [{"id": "1", "stream_id": 42, "thumbnail_url": ""}], "pagination": {}}
    httpserver.expect_request("/helix/videos").respond_with_json(page)
    videos = make_client(httpserver, clock).videos("123")
    args = helix_requests(httpserver, "videos")[0].args
    assert (args["user_id"], args["type"], args["first"]) == ("123", "archive", "100")
    assert videos[0].stream_id == "42" and videos[0].user_id == "123"
    assert videos[0].thumbnail_url is None and videos[0].title == ""


# -- rate limit and server errors ------------------------------------------------------------


def test_ratelimit_remaining_zero_waits_for_reset(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    reset = int(clock.now) + 30
    headers = {"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(reset)}
    httpserver.expect_oneshot_request("/helix/users").respond_with_json(
        {"data": []}, headers=headers
    )
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    client = make_client(httpserver, clock)
    client.users(ids=["1"])
    assert clock.slept == []
    client.users(ids=["2"])
    assert clock.slept == [pytest.approx(reset - 1_780_000_000.0)]
    client.users(ids=["3"])
    assert len(clock.slept) == 1


def test_429_then_200_waits_until_reset(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    headers = {"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(clock.now) + 5)}
    httpserver.expect_oneshot_request("/helix/users").respond_with_json({}, 429, headers=headers)
    httpserver.expect_request("/helix/users").respond_with_json({"data": [user_json("1", "a")]})
    client = make_client(httpserver, clock)
    assert [u.login for u in client.users(ids=["1"])] == ["a"]
    assert clock.slept == [pytest.approx(5.0)]
    assert client.calls == 2


def test_429_storm_gives_up_after_three_retries(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/games").respond_with_json({"message": "slow down"}, 429)
    client = make_client(httpserver, clock)
    with pytest.raises(HelixError, match="status=429"):
        client.games(names=["x"])
    assert len(helix_requests(httpserver, "games")) == 4
    assert clock.slept == [1.0, 1.0, 1.0]


def test_rate_wait_is_capped(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    headers = {"Ratelimit-Reset": str(int(clock.now) + 3600)}
    httpserver.expect_oneshot_request("/helix/users").respond_with_json({}, 429, headers=headers)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    make_client(httpserver, clock, max_rate_wait=10.0).users(ids=["1"])
    assert clock.slept == [10.0]


def test_waits_share_a_budget_and_a_wait_that_does_not_fit_is_not_waited(
    httpserver: HTTPServer, clock: FakeClock
) -> None:
    """Budget 15 s: a 429 asking for 10 s is waited; the next asks for 10 s again, more than
    the 5 s left: `RateLimitedError` at once, no sleep; a later call that needs no wait
    still goes out."""
    serve_tokens(httpserver)

    def limited(_request: Request) -> Response:
        reset = str(int(clock.now) + 10)  # always 10 s from now
        return Response("{}", 429, {"Ratelimit-Reset": reset}, content_type="application/json")

    httpserver.expect_request("/helix/users").respond_with_handler(limited)
    budget = WaitBudget(15.0)
    client = make_client(httpserver, clock)
    with pytest.raises(RateLimitedError, match="over the wait budget"):
        client.users(ids=["1"], budget=budget)
    assert clock.slept == [pytest.approx(10.0)]
    assert budget.left == pytest.approx(5.0)
    assert len(helix_requests(httpserver, "users")) == 2
    httpserver.expect_request("/helix/games").respond_with_json({"data": []})
    assert client.games(names=["x"], budget=budget) == []


def test_500_is_retried_once(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_oneshot_request("/helix/users").respond_with_data("boom", 502)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    assert make_client(httpserver, clock).users(ids=["1"]) == []
    assert clock.slept == [1.0]


def test_500_twice_raises(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_data("boom", 500)
    with pytest.raises(HelixError, match="endpoint=users status=500"):
        make_client(httpserver, clock).users(ids=["1"])
    assert len(helix_requests(httpserver, "users")) == 2


def test_400_is_not_retried(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"message": "Malformed query"}, 400)
    with pytest.raises(HelixError, match="Malformed query"):
        make_client(httpserver, clock).users(ids=["1"])
    assert len(helix_requests(httpserver, "users")) == 1


# -- credentials, bad bodies, secrets --------------------------------------------------------


@pytest.mark.parametrize(("cid", "secret"), [("", ""), (CLIENT_ID, ""), ("", SECRET), (" ", " ")])
def test_no_credentials_sends_nothing(
    httpserver: HTTPServer, clock: FakeClock, cid: str, secret: str
) -> None:
    client = make_client(httpserver, clock, client_id=cid, client_secret=secret)
    assert client.has_credentials is False
    with pytest.raises(NeedsCredentialsError):
        client.users(logins=["a"])
    with pytest.raises(NeedsCredentialsError):
        client.games(names=["Just Chatting"])
    with pytest.raises(NeedsCredentialsError):
        client.videos("123")
    assert httpserver.log == [] and client.calls == 0 and client.token_requests == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Service Unavailable</body></html>",
        b'{"data": [',
        b'{"data": {"id": "1"}}',
        b'{"nodata": []}',
        b'{"data": ["just a string"]}',
        b'{"data": [{"login": "no_id"}]}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_malformed_answers_are_helix_errors(
    httpserver: HTTPServer, clock: FakeClock, body: bytes
) -> None:
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_data(body, content_type="text/html")
    with pytest.raises(HelixError, match="endpoint=users"):
        make_client(httpserver, clock).users(ids=["1"])


def test_missing_optional_fields_become_none(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    data = {"data": [{"id": "5", "login": "bare", "offline_image_url": None}]}
    httpserver.expect_request("/helix/users").respond_with_json(data)
    (user,) = make_client(httpserver, clock).users(ids=["5"])
    assert user.display_name == "bare" and user.description == ""
    assert user.profile_image_url is None and user.offline_image_url is None


def test_oversized_body_is_rejected(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    huge = b'{"data": [], "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    httpserver.expect_request("/helix/users").respond_with_data(huge)
    with pytest.raises(HelixError, match="too large"):
        make_client(httpserver, clock).users(ids=["1"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_token_endpoint(clock: FakeClock) -> None:
    port = closed_port()
    client = HelixClient(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        clock=clock,
        timeout=2,
        api_base=f"http://127.0.0.1:{port}/helix",
        auth_url=f"http://127.0.0.1:{port}/oauth2/token",
    )
    with pytest.raises(HelixError) as info:
        client.users(ids=["1"])
    assert "token" in str(info.value) and SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unreachable_helix_names_endpoint(httpserver: HTTPServer, clock: FakeClock) -> None:
    serve_tokens(httpserver)
    api_base = f"http://127.0.0.1:{closed_port()}/helix"
    client = make_client(httpserver, clock, api_base=api_base, timeout=2)
    with pytest.raises(HelixError, match="unreachable endpoint=games") as info:
        client.games(names=["x"])
    assert SECRET not in str(info.value) and "tok-1" not in str(info.value)


def test_secret_and_token_never_logged(
    httpserver: HTTPServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    serve_tokens(httpserver)
    httpserver.expect_oneshot_request("/helix/users").respond_with_json({}, 401)
    httpserver.expect_oneshot_request("/helix/users").respond_with_json({}, 429)
    httpserver.expect_oneshot_request("/helix/users").respond_with_data("x", 503)
    echo = {"message": f"bad token tok-2 for {SECRET}"}
    httpserver.expect_request("/helix/users").respond_with_json(echo, 400)
    client = make_client(httpserver, clock)
    with pytest.raises(HelixError) as info:
        client.users(ids=["1"], logins=["someone"])
    assert caplog.records, "the flow above must log something"
    text = caplog.text + str(info.value)
    assert SECRET not in text and "tok-1" not in text and "tok-2" not in text


# -- sharing between threads -----------------------------------------------------------------


def test_shared_client_fetches_one_token(fake: FakeTwitch) -> None:
    client = fake_client(fake)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.users(ids=[ALICE_ID])
        except HelixError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.token_requests == 1 and fake.hits["token"] == 1
    assert client.calls == 8 and fake.hits["users"] == 8


def test_expired_tokens_at_fake_are_refreshed(fake: FakeTwitch) -> None:
    client = fake_client(fake)
    assert client.users(ids=[ALICE_ID])
    fake.expire_tokens()
    assert client.users(ids=[ALICE_ID])
    assert fake.hits["token"] == 2 and fake.hits["users"] == 3


def test_wrong_secret_at_fake(fake: FakeTwitch) -> None:
    client = HelixClient(
        client_id=CLIENT_ID,
        client_secret="wrong-" + SECRET,
        api_base=fake.api_base,
        auth_url=fake.auth_url,
        clock=FakeClock(),
    )
    with pytest.raises(HelixError, match="status=403") as info:
        client.users(ids=[ALICE_ID])
    assert SECRET not in str(info.value)
    assert fake.hits["users"] == 0


def test_close_leaves_injected_session_open(httpserver: HTTPServer, clock: FakeClock) -> None:
    import requests

    session = requests.Session()
    serve_tokens(httpserver)
    httpserver.expect_request("/helix/users").respond_with_json({"data": []})
    client = make_client(httpserver, clock, session=session)
    client.close()
    assert session.get(httpserver.url_for("/helix/users")).status_code == 200
    session.close()


def test_answers_nested_too_deeply_are_helix_errors() -> None:
    deep = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(HelixError, match="nested too deeply endpoint=users"):
        decode_object("users", deep)


def test_lone_surrogates_in_answers_become_u_fffd() -> None:
    payload = decode_object(
        "users",
        b'{"data": [{"id": "1", "login": "a\\ud800", "display_name": "A\\udfff",'
        b' "description": "\\ud800\\ud83d\\ude00"}], "pagination": {"cursor": "c\\ud800"}}',
    )
    user = parse_user(data_list("users", payload)[0])
    assert (user.login, user.display_name) == ("a\ufffd", "A\ufffd")
    assert user.description == "\ufffd\U0001f600"  # a valid pair stays one character
    assert next_cursor(payload) == "c\ufffd"


def test_a_token_that_cannot_go_into_a_header_is_a_helix_error() -> None:
    with pytest.raises(HelixError, match="not printable ASCII"):
        parse_token({"access_token": "abc\ud800", "expires_in": 3600})
