"""`svimaged notify test` against fake servers: what each answered, the libraries that hold
the recordings as it sees them, and the exit code (0 all ready, 1 one is not)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from svimaged.cli.main import main
from tests.notify.fakes import FakeKodi, FakeMediaBrowser, FakePlex, closed_port_url

KEY = "0123456789abcdef"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NT_KODI_PW", "kodi-pw")
    monkeypatch.setenv("NT_JF_KEY", KEY)
    monkeypatch.setenv("NT_PLEX", "plex-token-1234")


@pytest.fixture
def servers() -> Iterator[tuple[FakeKodi, FakeMediaBrowser, FakePlex]]:
    with (
        FakeKodi(sources=["smb://nas/rec/"]) as kodi,
        FakeMediaBrowser(flavor="jellyfin", api_key=KEY, libraries={"Twitch": ["/data/tv"]}) as jf,
        FakePlex(sections={"2": ("Twitch", "show", ["/data/tv/Alice Plays"])}) as plex,
    ):
        yield kodi, jf, plex


def write_config(tmp_path: Path, notify: list[dict[str, Any]]) -> str:
    data = {
        "recordings": "/srv/rec",
        "nfo": {"path_map": [{"from": "/srv/rec", "to": "/data/tv"}]},
        "notify": notify,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def entries(kodi: str, jellyfin: str, plex: str) -> list[dict[str, Any]]:
    return [
        {"type": "kodi", "url": kodi, "password_env": "NT_KODI_PW",
         "path_map": [{"from": "/srv/rec", "to": "smb://nas/rec"}]},
        {"type": "jellyfin", "url": jellyfin, "api_key_env": "NT_JF_KEY"},
        {"type": "plex", "url": plex, "token_env": "NT_PLEX"},
    ]  # fmt: skip


@pytest.mark.usefixtures("env")
def test_every_server_ready_exits_0(
    tmp_path: Path,
    servers: tuple[FakeKodi, FakeMediaBrowser, FakePlex],
    capsys: pytest.CaptureFixture[str],
) -> None:
    kodi, jf, plex = servers
    config = write_config(tmp_path, entries(kodi.url, jf.url, plex.url))
    assert main(["notify", "test", "--config", config]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"kodi (kodi at {kodi.url}): Kodi 20.1 (JSON-RPC 13.0.0)\n"
        "  library 'Source 0': smb://nas/rec/\n"
        "  ok: notifications will name paths below smb://nas/rec\n"
        f"jellyfin (jellyfin at {jf.url}): Jellyfin Server 10.10.3 (mediabox)\n"
        "  library 'Twitch': /data/tv\n"
        "  ok: notifications will name paths below /data/tv\n"
        f"plex (plex at {plex.url}): Plex Media Server 1.41.3.9314-a0bfb8370\n"
        "  library 'Twitch': /data/tv/Alice Plays\n"
        "  ok: notifications will name paths below /data/tv\n"
        "3 of 3 media servers ready\n"
    )
    # Harmless: nothing was scanned, updated or refreshed.
    assert {c["method"] for c in kodi.rpc_calls()} == {
        "JSONRPC.Version",
        "Application.GetProperties",
        "Files.GetSources",
    }
    assert {(r.method, r.path) for r in jf.requests} == {
        ("GET", "/System/Info"),
        ("GET", "/Library/VirtualFolders"),
    }
    assert {r.path for r in plex.requests} == {"/identity", "/library/sections"}


@pytest.mark.usefixtures("env")
def test_a_server_down_refusing_or_without_the_library_exits_1(
    tmp_path: Path,
    servers: tuple[FakeKodi, FakeMediaBrowser, FakePlex],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kodi, jf, plex = servers
    down = closed_port_url()
    notify = entries(down, jf.url, plex.url)
    notify[2]["path_map"] = [{"from": "/srv/rec", "to": "/elsewhere"}]
    monkeypatch.setenv("NT_JF_KEY", "wrong-key")
    config = write_config(tmp_path, notify)
    assert main(["notify", "test", "--config", config]) == 1
    out = capsys.readouterr().out
    assert f"kodi (kodi at {down}): FAILED: POST {down}/jsonrpc: connection refused\n" in out
    assert (
        f"jellyfin (jellyfin at {jf.url}): FAILED: GET {jf.url}/System/Info: HTTP 401 "
        "(check the credentials)\n"
    ) in out
    assert (
        "  FAILED: answered, but none of its 1 libraries holds /elsewhere (add the folder to a "
        "library, or set path_map to the path the server sees)\n"
    ) in out
    assert out.endswith("0 of 3 media servers ready\n")
    assert "wrong-key" not in out


def test_no_servers_configured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "test", "--config", write_config(tmp_path, [])]) == 0
    assert "notify list is empty" in capsys.readouterr().out


def test_notify_test_help_has_a_description_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["notify", "test", "--help"])
    assert exc.value.code == 0
    blocks = capsys.readouterr().out.split("\n\n")
    paragraph = " ".join(blocks[1].split())
    assert paragraph.startswith("Send a harmless request") and paragraph.endswith(".")
