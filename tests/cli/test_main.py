"""The `svimaged` command: exit codes and output (contract section 8)."""

from __future__ import annotations

import argparse
import io
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from svimaged.cli.main import build_parser, main
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch
from svimaged.demo.run import run_demo
from svimaged.demo.sample_tree import build_demo_tree
from svimaged.state import SCHEMA_VERSION


def write_config(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_check_config_prints_effective_config_with_secret_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVIMAGED_TWITCH_CLIENT_SECRET", "s3cr3t-value")
    cfg = write_config(tmp_path / "c.yaml", {"recordings": str(tmp_path)})
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert f"recordings: {tmp_path}" in out
    assert "s3cr3t-value" not in out
    assert "***" in out


def test_check_config_errors_name_the_key_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(
        tmp_path / "c.yaml",
        {"recordings": "relative/path", "download": {"timeout": -3}, "bogus": 1},
    )
    assert main(["check-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "config error: download.timeout: must be a positive number, got -3" in err
    assert "config error: recordings:" in err
    assert "config error: bogus: unknown key" in err


def test_config_from_environment_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "from-env").mkdir()
    cfg = write_config(tmp_path / "env.yaml", {"recordings": str(tmp_path / "from-env")})
    monkeypatch.setenv("SVIMAGED_CONFIG", str(cfg))
    assert main(["check-config"]) == 0
    assert str(tmp_path / "from-env") in capsys.readouterr().out


def test_check_config_with_a_recordings_folder_that_does_not_exist_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path / "c.yaml", {"recordings": str(tmp_path / "nope")})
    assert main(["check-config", "--config", str(cfg)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"config error: recordings: {tmp_path / 'nope'} is not a directory\n"
    assert captured.out == ""
    (tmp_path / "nope").write_text("a file, not a folder")
    assert main(["check-config", "--config", str(cfg)]) == 2


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_run_once_prints_summary_and_exits_0(
    tmp_path: Path, fake: FakeTwitch, capsys: pytest.CaptureFixture[str]
) -> None:
    build_demo_tree(tmp_path / "rec", fake, now=time.time())
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    data["log_level"] = "error"
    cfg = write_config(tmp_path / "c.yaml", data)
    assert main(["run", "--once", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cached 12, failed 0, nfo written 13, unchanged 0, errors 0")
    assert main(["run", "--once", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.startswith("cached 0, failed 0, nfo written 0, unchanged 1,")


def test_run_once_without_recordings_folder_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(
        tmp_path / "c.yaml",
        {"recordings": str(tmp_path / "missing"), "state_dir": str(tmp_path / "state")},
    )
    assert main(["run", "--once", "--config", str(cfg)]) == 1
    assert "missing" in capsys.readouterr().err


def test_run_with_unusable_state_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "state").mkdir()
    newer = sqlite3.connect(tmp_path / "state" / "state.db")  # a damaged file is moved aside;
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")  # a newer one is unusable
    newer.close()
    cfg = write_config(
        tmp_path / "c.yaml",
        {"recordings": str(tmp_path / "rec"), "state_dir": str(tmp_path / "state")},
    )
    assert main(["run", "--once", "--config", str(cfg)]) == 1
    assert "state.db" in capsys.readouterr().err


def test_daemon_with_missing_config_exits_2_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--config", str(tmp_path / "c.yaml")]) == 2
    assert "c.yaml" in capsys.readouterr().err


def subcommands() -> list[str]:
    """Every subcommand the parser knows, read from the parser itself."""
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(action.choices)


def test_subcommands_are_the_documented_ones() -> None:
    assert subcommands() == sorted(
        [
            "run",
            "check-config",
            "demo",
            "migrate",
            "notify",
            "stats",
            "sync",
            "cleanup",
            "streamer",
            "category",
        ]
    )


@pytest.mark.parametrize("command", subcommands())
def test_each_subcommand_help_has_a_description_paragraph(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: svimaged {command}")
    # argparse prints: the usage block, a blank line, the description, a blank line, options.
    blocks = help_text.split("\n\n")
    paragraph = " ".join(blocks[1].split())
    assert not paragraph.startswith(("options:", "positional arguments:")), help_text
    assert len(paragraph) > 60 and paragraph.endswith("."), paragraph


def test_unknown_command_is_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_demo_runs_twice_and_refuses_foreign_folder(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path / "demo", out=out) == 0
    text = out.getvalue()
    assert "cached 26, failed 0, nfo written 28" in text
    assert str(tmp_path / "demo" / "recordings" / ".images" / "profiles") in text
    again = io.StringIO()
    assert run_demo(tmp_path / "demo", out=again) == 0
    # the one error: LiveStreamDVR's broken tvshow.nfo, left alone on every pass
    assert "cached 0, failed 0, nfo written 0, unchanged 4, errors 1," in again.getvalue()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    assert main(["demo", str(foreign)]) == 2
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]


def test_module_entry_point_reports_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "svimaged", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("svimaged ")


def test_migrate_dry_run_then_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from svimaged.demo.pictures import make_jpeg

    rec = tmp_path / "rec"
    folder = rec / "Alice Plays"
    folder.mkdir(parents=True)
    (folder / "tvshow.nfo").write_text(
        '<tvshow><title>Alice Plays</title><uniqueid type="twitch">10000001</uniqueid></tvshow>'
    )
    media = rec / ".media" / "profiles"
    media.mkdir(parents=True)
    (media / "profile_avatar_10000001.jpg").write_bytes(make_jpeg(64, 64, seed=4))
    cfg = write_config(
        tmp_path / "c.yaml",
        {"recordings": str(rec), "state_dir": str(tmp_path / "state"), "log_level": "error"},
    )
    target = rec / ".images" / "profiles" / "profile_avatar_10000001.jpg"
    assert main(["migrate", "--dry-run", "--config", str(cfg)]) == 0
    assert "would import 1, skipped 0, errors 0" in capsys.readouterr().out
    assert not target.exists()
    assert main(["migrate", "--config", str(cfg)]) == 0
    assert target.is_file()
    assert main(["migrate", "--config", str(cfg)]) == 0  # a second run does nothing
    assert "imported 0" in capsys.readouterr().out.splitlines()[-1]
