"""Hostile input, fuzzed with hypothesis: NFO bytes, info.json bytes, file names, raw HTTP
request bytes on the control socket.

What must hold:
- NFO merge raises nothing but `NfoParseError`, never expands an entity (the marker text an
  entity would expand to never appears in the output, and the output declares no entity
  that a media server could expand later), and its output always parses again.
- `parse_info_json` raises nothing but `MetadataError`.
- Any file name the OS accepts goes through a scan and a pass without an exception; every
  NFO written parses; an NFO the OS refuses (name too long) is counted as an error.
- Any bytes on the control socket get an HTTP answer (never a 500) or a closed connection,
  and `/healthz` still answers afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from svimaged.config import parse_config
from svimaged.control.server import ControlServer
from svimaged.core.clock import FakeClock
from svimaged.core.errors import MetadataError, NfoParseError
from svimaged.library.infojson import parse_info_json
from svimaged.library.scan import scan_tree
from svimaged.nfo.merge import merge_episode, merge_tvshow
from svimaged.nfo.model import EpisodeInfo, ShowInfo
from svimaged.nfo.xml import parse_xml
from svimaged.pipeline import Pipeline
from svimaged.pipeline.items import PassSummary
from svimaged.pipeline.resources import build_resources

LONG_RUN = os.environ.get("HYPOTHESIS_PROFILE") == "long"
FUZZ = settings(
    # CI: a fixed set (derandomized profile); `HYPOTHESIS_PROFILE=long`: the profile's many.
    max_examples=settings.default.max_examples if LONG_RUN else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MARKER = "EXPANDED-ENTITY-MARKER"
EPISODE = EpisodeInfo(
    title="T", showtitle="S", season=202611, episode=3, aired=None, genre="G",
    stream_id="1", thumb="/recordings/.images/artwork/1/stream_1.jpg",
)  # fmt: skip
SHOW = ShowInfo(
    title="S", plot=None, user_id="1", poster="/recordings/.images/profiles/p.jpg",
    fanart=None, season_thumbs=(),
)  # fmt: skip


def merge_as_episode(data: bytes) -> bytes:
    return merge_episode(data, EPISODE)


def merge_as_tvshow(data: bytes) -> bytes:
    return merge_tvshow(data, SHOW)


def assert_safe_merge(data: bytes, encoding: str = "utf-8") -> None:
    """The NFO merge contract for hostile bytes (see the module docstring). `ROOT` in the
    text is replaced by each root element name before encoding."""
    for root, merge in (("episodedetails", merge_as_episode), ("tvshow", merge_as_tvshow)):
        text = data.decode("utf-8", "surrogateescape").replace("ROOT", root)
        try:
            out = merge(text.encode(encoding, "surrogateescape"))
        except NfoParseError:
            continue
        assert MARKER.encode() not in out
        assert b"<!entity" not in out.lower(), out[:300]
        parse_xml(out)  # raises NfoParseError (failing the test) when it does not parse


# -- NFO bytes -------------------------------------------------------------------------------

entity_names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
keywords = st.sampled_from(["ENTITY", "entity", "Entity", "ENTITY  ", "ENTITY\n"])


@st.composite
def entity_documents(draw: st.DrawFn) -> bytes:
    """UTF-8 documents with an internal DTD subset whose entities would expand to MARKER
    (nested ones as in "billion laughs"), referenced from text and attributes."""
    names = draw(st.lists(entity_names, min_size=1, max_size=4, unique=True))
    decls = [f'<!{draw(keywords)} {names[0]} "{MARKER}">']
    decls += [f'<!ENTITY {n} "&{p};&{p};&{p};">' for p, n in itertools.pairwise(names)]
    if draw(st.booleans()):
        decls.append('<!ENTITY ext SYSTEM "file:///etc/hostname">')
    refs = "".join(f"&{n};" for n in draw(st.lists(st.sampled_from(names), max_size=3)))
    body = f'<plot>{refs}</plot><x a="{refs}"/>'
    doc = f"<!DOCTYPE ROOT [{''.join(decls)}]><ROOT>{body}</ROOT>"
    prefix = draw(
        st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>'])
    )
    return (prefix + doc).encode("utf-8")


@FUZZ
@given(entity_documents())
def test_utf8_entity_declarations_never_expand_and_merge_output_parses(data: bytes) -> None:
    """Entity declarations (nested, external, any case of the keyword) in UTF-8 NFOs."""
    assert_safe_merge(data)


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 200), entity_documents())
def test_arbitrary_bytes_spliced_into_nfos_raise_only_nfo_parse_error(
    noise: bytes, at: int, doc: bytes
) -> None:
    """Random bytes inserted anywhere into a hostile document, or alone."""
    assert_safe_merge(noise)
    assert_safe_merge(doc[:at] + noise + doc[at:])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_entity_declarations_in_utf16_or_utf32_nfos_are_refused(encoding: str) -> None:
    doc = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
        f'<!DOCTYPE ROOT [<!ENTITY e "{MARKER}">]><ROOT><plot>&e;</plot></ROOT>'
    )
    assert_safe_merge(doc.encode(), encoding)


def test_external_dtd_with_undeclared_entity_gives_output_that_parses() -> None:
    assert_safe_merge(b'<!DOCTYPE ROOT SYSTEM "file:///etc/passwd"><ROOT><plot>&xxe;</plot></ROOT>')


# -- info.json bytes -------------------------------------------------------------------------

json_leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
INFO_KEYS = [
    "id", "twitch_id", "streamer", "username", "profile_image", "title", "category",
    "started_at", "uploader_id", "uploader", "thumbnail", "timestamp", "upload_date",
    "categories", "game",
]  # fmt: skip
info_objects = st.dictionaries(st.sampled_from(INFO_KEYS), json_values, max_size=10).map(
    lambda obj: {**obj, "streamer": obj["streamer"]} if "streamer" in obj else obj
)
nested_streamer = st.dictionaries(st.sampled_from(INFO_KEYS), json_values, max_size=4)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        info_objects.map(lambda o: json.dumps(o).encode()),
        st.tuples(info_objects, nested_streamer).map(
            lambda t: json.dumps({**t[0], "streamer": t[1]}).encode()
        ),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
def test_info_json_bytes_raise_only_metadata_error(data: bytes) -> None:
    with contextlib.suppress(MetadataError):
        parse_info_json(data, source="fuzz.info.json")


# -- file names ------------------------------------------------------------------------------

name_text = st.text(
    alphabet=st.characters(exclude_characters="/\0", codec="utf-8"),
    min_size=1,
    max_size=80,
)
long_names = st.integers(200, 300).map(lambda n: "é" * (n // 2))
stems = st.one_of(name_text, long_names, name_text.map(lambda t: f"login - S202611E01 - {t}"))


@FUZZ
@given(folder=name_text, stem=stems, suffix=st.sampled_from([".mp4", ".MKV", ".ts"]))
def test_hostile_file_names_go_through_a_scan_and_a_pass(
    folder: str, stem: str, suffix: str
) -> None:
    """Unicode, control characters, newlines and very long names, offline (no Twitch)."""
    assume(not folder.startswith(".") and folder not in (".", ".."))
    assume(not stem.startswith("."))  # dot-files are never input
    with tempfile.TemporaryDirectory(prefix="svfz") as tmp:
        rec = Path(tmp) / "rec"
        video = rec / folder / f"{stem}{suffix}"
        try:
            video.parent.mkdir(parents=True)
            video.write_bytes(b"x")
        except (OSError, UnicodeEncodeError):
            assume(False)  # a name the OS refuses is not input
        os.utime(video, (time.time() - 3600,) * 2)
        assert [f.name for f in scan_tree(rec)] == [folder]
        summary = offline_pass(rec, Path(tmp) / "state")
        assert summary.recordings == 1
        nfo = video.with_name(f"{stem}.nfo")
        # Temporary names are shortened to fit, so only the NFO's own name can be too long.
        if len(os.fsencode(nfo.name)) > 255:  # cannot exist at all
            assert summary.errors >= 1 and not os.path.lexists(nfo)
        else:
            assert summary.errors == 0 and str(nfo) in summary.nfo_written
            parse_xml(nfo.read_bytes())
        parse_xml((rec / folder / "tvshow.nfo").read_bytes())


def test_nfo_whose_name_fits_but_whose_temporary_name_does_not_is_written(
    tmp_path: Path,
) -> None:
    rec = tmp_path / "rec"
    stem = "login - S202611E01 - " + "x" * (251 - len("login - S202611E01 - "))
    video = rec / "login" / f"{stem}.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"x")
    os.utime(video, (time.time() - 3600,) * 2)
    assert len(f"{stem}.nfo") == 255
    config = parse_config({"recordings": str(rec), "state_dir": str(tmp_path / "state")}, {})
    engine = Pipeline(build_resources(config, FakeClock(start=time.time())))
    try:
        summary = engine.full_pass()
    finally:
        engine.close()
    assert summary.errors == 0
    parse_xml(video.with_name(f"{stem}.nfo").read_bytes())


# -- raw HTTP on the control socket ----------------------------------------------------------


class CannedApi:
    """A control API with fixed answers (the server, not the engine, is under test)."""

    version = "0.0.0-fuzz"

    def __init__(self, images_root: Path) -> None:
        self.images_root = images_root

    def shutting_down(self) -> bool:
        return False

    def stats(self) -> dict[str, object]:
        return {"total_cached": 0}

    def streamer(self, id_or_login: str) -> dict[str, object]:
        return {"streamer_id": id_or_login}

    def download_streamer(self, id_or_login: str, *, force: bool) -> dict[str, object]:
        return {"streamer_id": id_or_login}

    def category(self, name: str) -> dict[str, object]:
        return {"category_name": name}

    def download_category(self, name: str, *, force: bool) -> dict[str, object]:
        return {"category_name": name}

    def start_sync(self) -> str:
        return "job-1"

    def job(self, job_id: str) -> dict[str, object]:
        return {"job_id": job_id, "state": "done", "done": 0, "total": 0}

    def wait_job(self, job_id: str, timeout: float) -> dict[str, object]:
        return {"job_id": job_id, "downloaded": 0, "failed": 0, "nfo_written": 0, "seconds": 0}

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        return {"total_cleaned": 0}

    def metrics(self) -> str:
        return "svimaged_up 1\n"


@pytest.fixture(scope="module")
def control_socket() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="svfz"))
    (folder / "images" / "profiles").mkdir(parents=True)
    server = ControlServer(
        CannedApi(folder / "images"), socket_path=folder / "c.sock", request_timeout=0.5
    )
    server.start()
    try:
        yield str(folder / "c.sock")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def exchange(path: str, data: bytes) -> bytes:
    """Send `data`, half-close, read until the server closes (5 s at most)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


METHODS = st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"G\0T", b""])
PATHS = st.one_of(
    st.sampled_from([
        b"/healthz", b"/api/images/stats", b"/api/images/sync?wait=1", b"/api/jobs/x",
        b"/data/images/profiles/../../etc/passwd", b"/data/images/profiles/%2e%2e%2fx.jpg",
        b"/api/images/category/%00", b"/api/images/streamer/%ff%fe/download", b"*", b"",
    ]),
    st.binary(max_size=60).map(lambda b: b"/" + b),
)  # fmt: skip
HEADERS = st.lists(
    st.one_of(
        st.sampled_from([
            b"Content-Length: 5", b"Content-Length: -1", b"Content-Length: 99999999999",
            b"Transfer-Encoding: chunked", b"Host: x", b"Connection: keep-alive",
            b"Authorization: Bearer x", b"Expect: 100-continue", b": empty",
        ]),
        st.binary(max_size=40),
    ),
    max_size=5,
)  # fmt: skip


@st.composite
def requests_bytes(draw: st.DrawFn) -> bytes:
    line = b" ".join(
        [
            draw(METHODS),
            draw(PATHS),
            draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"", b"HTTP/9"])),
        ]
    )
    head = b"\r\n".join([line, *draw(HEADERS)]) + b"\r\n\r\n"
    return head + draw(st.binary(max_size=40))


@FUZZ
@given(st.one_of(requests_bytes(), st.binary(max_size=300)))
def test_raw_request_bytes_get_an_answer_or_a_close_never_a_crash(
    control_socket: str, data: bytes
) -> None:
    reply = exchange(control_socket, data)
    if reply:
        assert reply.startswith(b"HTTP/1.1 "), reply[:80]
        status = int(reply.split(b" ", 2)[1])
        assert 100 <= status < 600 and status != 500, reply[:200]
    health = exchange(control_socket, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200 "), health[:200]
    assert json.loads(health.split(b"\r\n\r\n", 1)[1]) == {"status": "ok", "version": "0.0.0-fuzz"}


# -- file names in other encodings ------------------------------------------------------------

raw_names = st.binary(min_size=1, max_size=60).filter(
    lambda b: b"/" not in b and b"\0" not in b and not b.startswith(b".")
)


@FUZZ
@given(folder=raw_names, stem=raw_names)
def test_names_of_any_bytes_never_stop_the_pass(folder: bytes, stem: bytes) -> None:
    """A streamer folder and a recording named with arbitrary bytes (Latin-1, broken UTF-8),
    beside a good recording: the good one always gets its NFO; a name that is not UTF-8 is
    skipped and counted, one that is UTF-8 is processed."""
    with tempfile.TemporaryDirectory(prefix="svfz") as tmp:
        rec = Path(tmp) / "rec"
        good = rec / "good" / "good - S202611E01 - ok.mp4"
        good.parent.mkdir(parents=True)
        good.write_bytes(b"x")
        raw = os.fsencode(rec) + b"/" + folder
        try:
            if not os.path.isdir(raw):
                os.mkdir(raw)
            video = raw + b"/" + stem + b".mp4"
            with open(video, "wb") as handle:
                handle.write(b"x")
        except OSError:
            assume(False)  # a name the OS refuses (too long) is not input
        for path in (good, Path(os.fsdecode(video))):
            os.utime(path, (time.time() - 3600,) * 2)
        summary = offline_pass(rec, Path(tmp) / "state")
        assert (rec / "good" / "good - S202611E01 - ok.nfo").is_file()
        texts = [folder, stem]
        valid = all(_is_utf8(part) for part in texts)
        assert (summary.errors == 0) == valid or len(os.fsencode(stem)) > 245


def offline_pass(rec: Path, state_dir: Path) -> PassSummary:
    """One full pass over `rec` without Twitch credentials."""
    config = parse_config({"recordings": str(rec), "state_dir": str(state_dir)}, {})
    engine = Pipeline(build_resources(config, FakeClock(start=time.time())))
    try:
        return engine.full_pass()
    finally:
        engine.close()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
