"""Deployment files: the systemd unit, the Dockerfile, the compose example, the health check.

CI has no container engine, so the Dockerfile, constraints.txt and the compose file are
parsed and checked for their shape (docker/e2e.sh runs the built image by hand, see
docs/running.md); the unit is also given to `systemd-analyze verify` when that works in
this environment. The health check script is run against a fake control socket and against
a daemon started here.
"""

from __future__ import annotations

import configparser
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from svimaged.config import DEFAULT_SOCKET, DEFAULT_STATE_DIR, config_path_from, parse_config

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "svimaged.service"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONSTRAINTS = ROOT / "constraints.txt"
COMPOSE = ROOT / "docker-compose.example.yml"
COMPOSE_CONFIG = ROOT / "config" / "compose.yaml"
HEALTHCHECK = ROOT / "docker" / "healthcheck.py"
INSTALL_BIN = "/opt/svimaged/venv/bin/svimaged"

# ------------------------------------------------------------------------- systemd unit


def parse_unit(text: str) -> configparser.ConfigParser:
    """The unit as systemd reads it for our purposes: case-sensitive keys, no interpolation,
    a repeated key keeps its last value."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";")
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


@pytest.fixture(scope="module")
def unit() -> configparser.ConfigParser:
    return parse_unit(UNIT.read_text(encoding="utf-8"))


REQUIRED = [
    ("Service", "Type", "notify"),
    ("Service", "NotifyAccess", "main"),
    ("Service", "WatchdogSec", "60"),
    ("Service", "Restart", "on-failure"),
    ("Service", "User", "svimaged"),
    ("Service", "Group", "svimaged"),
    ("Service", "ProtectSystem", "strict"),
    ("Service", "ProtectHome", "yes"),
    ("Service", "PrivateTmp", "yes"),
    ("Service", "NoNewPrivileges", "yes"),
    ("Service", "StateDirectory", "svimaged"),
    ("Service", "RuntimeDirectory", "svimaged"),
    ("Service", "ExecReload", "/bin/kill -HUP $MAINPID"),
    ("Service", "UMask", "0022"),
    ("Service", "EnvironmentFile", "-/etc/svimaged/env"),
    ("Install", "WantedBy", "multi-user.target"),
]


@pytest.mark.parametrize(("section", "key", "value"), REQUIRED)
def test_unit_has_required_directive(
    unit: configparser.ConfigParser, section: str, key: str, value: str
) -> None:
    assert unit.get(section, key, fallback=None) == value


def test_unit_starts_the_daemon_from_the_documented_install_path(
    unit: configparser.ConfigParser,
) -> None:
    argv = shlex.split(unit.get("Service", "ExecStart"))
    assert argv[:2] == [INSTALL_BIN, "run"]
    assert "--once" not in argv and "--daemonize" not in argv
    config = argv[argv.index("--config") + 1]
    assert Path(config) == config_path_from(None, {})  # the CLI's own default


def test_unit_directories_match_the_config_defaults(unit: configparser.ConfigParser) -> None:
    state = unit.get("Service", "StateDirectory")
    runtime = unit.get("Service", "RuntimeDirectory")
    assert Path("/var/lib") / state == DEFAULT_STATE_DIR
    assert Path("/run") / runtime == DEFAULT_SOCKET.parent


def test_unit_makes_the_recordings_writable_and_waits_for_their_mount(
    unit: configparser.ConfigParser,
) -> None:
    writable = unit.get("Service", "ReadWritePaths").split()
    assert writable and all(p.startswith("/") for p in writable)
    assert "/recordings" in writable
    assert unit.get("Unit", "RequiresMountsFor").split() == writable


def test_unit_stops_after_the_daemon_had_its_ten_seconds(
    unit: configparser.ConfigParser,
) -> None:
    assert int(unit.get("Service", "TimeoutStopSec")) > 10


def test_unit_sandbox_keeps_what_the_daemon_needs(unit: configparser.ConfigParser) -> None:
    families = set(unit.get("Service", "RestrictAddressFamilies").split())
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= families  # socket, journald, HTTPS
    assert not any(f.startswith("~") for f in families)
    # ctypes/libffi in watchdog's inotify backend may need W+X pages: see the unit's comment.
    assert unit.get("Service", "MemoryDenyWriteExecute", fallback="no") == "no"


def test_unit_names_each_directive_once() -> None:
    seen: dict[tuple[str, str], int] = {}
    section = ""
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        assert "=" in line, f"not a directive: {line!r}"
        key = (section, line.split("=", 1)[0])
        seen[key] = seen.get(key, 0) + 1
    assert [k for k, n in seen.items() if n > 1] == []


def verifiable_copy(text: str, folder: Path, name: str = "svimaged.service") -> Path:
    """The unit with ExecStart on an existing binary and no User= (not present here)."""
    true_bin = shutil.which("true") or sys.executable
    lines = []
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={true_bin}"
        if line.startswith(("User=", "Group=")):
            continue
        lines.append(line)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )


@pytest.fixture
def systemd_verify(tmp_path: Path) -> Callable[[Path], subprocess.CompletedProcess[str]]:
    """`systemd-analyze verify`, or a skip when this environment cannot run it at all: a
    trivial valid unit must pass cleanly first (containers without systemd may refuse)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not on PATH; the unit is only parsed")
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    probe = verifiable_copy("[Service]\nType=simple\nExecStart=x\n", probe_dir, "probe.service")
    result = run_verify(probe)
    if result.returncode != 0 or result.stderr.strip():
        reason = (result.stderr.strip() or f"exit {result.returncode}").splitlines()[0]
        pytest.skip(f"systemd-analyze verify does not work here: {reason}")
    return run_verify


def test_systemd_analyze_verify_accepts_the_unit(
    tmp_path: Path, systemd_verify: Callable[[Path], subprocess.CompletedProcess[str]]
) -> None:
    result = systemd_verify(verifiable_copy(UNIT.read_text(encoding="utf-8"), tmp_path))
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings (exit 0): refuse them too.
    assert result.stderr.strip() == ""


def test_systemd_analyze_verify_check_catches_a_bad_directive(
    tmp_path: Path, systemd_verify: Callable[[Path], subprocess.CompletedProcess[str]]
) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("Type=notify", "Type=notfy\nProtectSystm=1")
    result = systemd_verify(verifiable_copy(broken, tmp_path))
    assert "notfy" in result.stderr and "ProtectSystm" in result.stderr


# ---------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; comments dropped, `\\` continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        word, _, args = line.partition(" ")
        out.append((word.upper(), args.strip()))
    assert pending == "", "Dockerfile ends inside a continued line"
    return out


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def args_of(docker: list[tuple[str, str]], word: str) -> list[str]:
    return [args for w, args in docker if w == word]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_of(docker: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of(docker, "ENV"):
        for item in shlex.split(args):
            key, sep, value = item.partition("=")
            assert sep, f"use ENV KEY=value, not {item!r}"
            env[key] = value
    return env


def test_dockerfile_parser_joins_continuations() -> None:
    parsed = dockerfile_instructions("# c\nFROM a\nRUN x \\\n  # note\n  && y\nuser 1\n")
    assert parsed == [("FROM", "a"), ("RUN", "x  && y"), ("USER", "1")]


def test_dockerfile_uses_a_pinned_slim_python_base(docker: list[tuple[str, str]]) -> None:
    """A tag naming the Python minor and the Debian release (or a digest), never a tag that
    moves to the next Debian under the same name."""
    froms = args_of(docker, "FROM")
    assert len(froms) == 1
    digest = r"(@sha256:[0-9a-f]{64})?"
    assert re.fullmatch(r"python:3\.11-slim-(bookworm|trixie)" + digest, froms[0]) or re.fullmatch(
        r"python(:[\w.-]+)?@sha256:[0-9a-f]{64}", froms[0]
    ), froms[0]


def first(docker: list[tuple[str, str]], word: str, pattern: str) -> int:
    """Index of the first `word` instruction whose arguments match `pattern`."""
    for index, (w, args) in enumerate(docker):
        if w == word and re.search(pattern, args):
            return index
    raise AssertionError(f"no {word} matching {pattern!r}")


def test_dockerfile_installs_the_dependencies_before_copying_the_source(
    docker: list[tuple[str, str]],
) -> None:
    """A source edit must not reinstall lxml and Pillow: the locked dependencies get their
    own layer, before anything of the package is copied."""
    copy_lock = first(docker, "COPY", r"^constraints\.txt\s")
    install_deps = first(docker, "RUN", r"pip install .*--requirement /tmp/constraints\.txt")
    copy_source = first(docker, "COPY", r"(^|\s)svimaged(\s|$)")
    copy_project = first(docker, "COPY", r"pyproject\.toml")
    install_package = first(docker, "RUN", r"pip install .*\s\.(\s|$)")
    assert copy_lock < install_deps < min(copy_source, copy_project) < install_package
    deps = docker[install_deps][1]
    assert "--no-deps" in deps and "pip check" in deps  # exactly the lock, and a complete one
    package = docker[install_package][1]
    assert "--no-deps" in package and "--no-build-isolation" in package  # nothing downloaded


def test_dockerfile_stores_no_file_twice(docker: list[tuple[str, str]]) -> None:
    """Modes come with COPY --chmod, not from a chmod layer that copies the files again."""
    assert not [r for r in args_of(docker, "RUN") if re.search(r"\bch(mod|own)\b", r)]
    copies = [shlex.split(a) for a in args_of(docker, "COPY")]
    modes = {c[-1]: c[0] for c in copies if c[0].startswith("--chmod=")}
    assert modes == {
        "/etc/svimaged/config.yaml": "--chmod=0644",
        "/usr/local/bin/svimaged-healthcheck": "--chmod=0755",
    }


def test_dockerfile_adds_the_user_without_the_system_range_warning(
    docker: list[tuple[str, str]],
) -> None:
    (run,) = [r for r in args_of(docker, "RUN") if "useradd" in r]
    assert "--system" not in run  # uid 10001 is above SYS_UID_MAX: useradd warns
    assert "--uid 10001" in run and "--gid 10001" in run


def test_dockerfile_runs_as_a_fixed_non_root_user(docker: list[tuple[str, str]]) -> None:
    users = args_of(docker, "USER")
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    assert user in ("10001", "svimaged")
    assert any("--uid 10001" in run for run in args_of(docker, "RUN"))


def test_dockerfile_declares_the_state_volume_only(docker: list[tuple[str, str]]) -> None:
    """/recordings is a bind mount of the host folder: a VOLUME there (or a named volume)
    copies the image's owner and mode onto the recordings (moby#35486)."""
    volumes: list[str] = []
    for args in args_of(docker, "VOLUME"):
        volumes += exec_form(args) if args.startswith("[") else args.split()
    assert volumes == [str(DEFAULT_STATE_DIR)]


def test_dockerfile_recordings_mount_point_belongs_to_root(docker: list[tuple[str, str]]) -> None:
    (run,) = [r for r in args_of(docker, "RUN") if re.search(r"install -d[^&]*/recordings", r)]
    made = re.search(r"install -d([^&]*)/recordings", run)
    assert made is not None and "-o" not in made.group(1) and "-m 0755" in made.group(1)


def test_dockerfile_pip_keeps_no_cache(docker: list[tuple[str, str]]) -> None:
    installs = [r for r in args_of(docker, "RUN") if "pip install" in r]
    assert len(installs) == 2
    assert all("pip install --no-cache-dir " in r for r in installs)


def test_dockerfile_environment_matches_the_config_defaults(
    docker: list[tuple[str, str]],
) -> None:
    env = env_of(docker)
    assert Path(env["SVIMAGED_CONFIG"]) == config_path_from(None, {})
    # The socket has one source, control.socket: no variable the daemon would not read.
    assert "SVIMAGED_SOCKET" not in env
    # The folders of the socket and the state exist and any uid (`user:`) may write them.
    made = [r for r in args_of(docker, "RUN") if "-m 1777" in r]
    assert any(str(DEFAULT_SOCKET.parent) in r and str(DEFAULT_STATE_DIR) in r for r in made)


def test_dockerfile_bakes_in_no_secret(docker: list[tuple[str, str]]) -> None:
    baked = list(env_of(docker))
    for args in args_of(docker, "ARG"):
        baked.append(args.partition("=")[0])
    assert not [k for k in baked if re.search(r"SECRET|TOKEN|PASSWORD|CLIENT_ID", k, re.I)]
    assert "SVIMAGED_TWITCH_CLIENT_SECRET=" not in DOCKERFILE.read_text(encoding="utf-8")


def test_dockerfile_runs_svimaged_run(docker: list[tuple[str, str]]) -> None:
    (entrypoint,) = args_of(docker, "ENTRYPOINT")
    (cmd,) = args_of(docker, "CMD")
    assert exec_form(entrypoint) + exec_form(cmd) == ["svimaged", "run"]


def test_dockerfile_health_check_runs_the_shipped_script(docker: list[tuple[str, str]]) -> None:
    (health,) = args_of(docker, "HEALTHCHECK")
    assert health.upper() != "NONE"
    _, _, command = health.partition("CMD ")
    argv = exec_form(command.strip())
    copies = [shlex.split(a) for a in args_of(docker, "COPY")]
    installed = {c[-1]: c[-2] for c in copies}
    assert installed[argv[-1]] == "docker/healthcheck.py"


# ------------------------------------------------------------------------ constraints.txt


def pinned() -> dict[str, Version]:
    """constraints.txt as {canonical name: version}; every line must be `name==version`."""
    pins: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line.strip())
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{name} pinned twice"
        pins[name] = Version(match.group(2))
    return pins


def test_constraints_pin_every_runtime_dependency_and_the_build_backend() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = pinned()
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pins, f"{name} is not in constraints.txt"
        assert spec.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]}"


def test_constraints_hold_no_test_or_lint_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    tools = {canonicalize_name(Requirement(r).name) for r in extras["test"] + extras["dev"]}
    tools -= {"packaging"}  # also a dependency of the build backend
    assert not tools & set(pinned()), "the image must not carry test tools"


def ignored(patterns: list[str], rel: str) -> bool:
    """Whether .dockerignore drops `rel` (later patterns win, `!` re-includes)."""
    verdict = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/")
        if any(
            fnmatch.fnmatch(p, body) or fnmatch.fnmatch(p, body.removeprefix("**/"))
            for p in prefixes
        ):
            verdict = not negate
    return verdict


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def test_dockerfile_copies_only_what_the_build_context_has(
    docker: list[tuple[str, str]],
) -> None:
    patterns = dockerignore_patterns()
    for args in args_of(docker, "COPY"):
        sources = [s for s in shlex.split(args)[:-1] if not s.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(patterns, source), f"{source} is excluded by .dockerignore"


def test_dockerignore_drops_local_clutter() -> None:
    patterns = dockerignore_patterns()
    for rel in (
        ".git",
        ".venv",
        ".venv/bin/python",
        "svimaged/__pycache__/x.pyc",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
    ):
        assert ignored(patterns, rel), rel
    assert not ignored(patterns, "svimaged/cli.py")


# ------------------------------------------------------------------------ compose example


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


class Mount:
    """One entry of a service's `volumes:`, short or long syntax."""

    def __init__(self, item: object) -> None:
        if isinstance(item, dict):
            self.kind = str(item["type"])
            self.source, self.target = str(item["source"]), str(item["target"])
            self.read_only = bool(item.get("read_only", False))
        else:
            source, target, *options = str(item).split(":")
            self.kind = "bind" if source.startswith(("/", ".", "$")) else "volume"
            self.source, self.target = source, target
            self.read_only = "ro" in ",".join(options).split(",")


def service_of(compose: dict[str, object], name: str) -> dict[str, object]:
    services = compose["services"]
    assert isinstance(services, dict)
    service = services[name]
    assert isinstance(service, dict)
    return service


def mounts(service: dict[str, object]) -> dict[str, Mount]:
    """target -> Mount of a service's volumes."""
    items = service.get("volumes", [])
    assert isinstance(items, list)
    return {m.target: m for m in map(Mount, items)}


def test_compose_runs_svimaged_next_to_jellyfin(compose: dict[str, object]) -> None:
    services = compose["services"]
    assert isinstance(services, dict)
    assert {"svimaged", "jellyfin"} <= set(services)
    assert service_of(compose, "svimaged")["build"] == "."
    assert "jellyfin/jellyfin" in str(service_of(compose, "jellyfin")["image"])


def svimaged_config(compose: dict[str, object]) -> tuple[str, dict[str, object]]:
    """(the config file's path in the container, parsed YAML) of the example: the folder
    mount at /etc/svimaged, filled from config/compose.yaml as the header says."""
    folder = mounts(service_of(compose, "svimaged"))[str(config_path_from(None, {}).parent)]
    assert folder.kind == "bind" and folder.read_only
    default = re.fullmatch(r"\$\{CONFIG_DIR:-(\./[\w.-]+)\}", folder.source)
    assert default, folder.source
    header = COMPOSE.read_text(encoding="utf-8")
    assert f"cp config/compose.yaml {default.group(1)[2:]}/config.yaml" in header
    data = yaml.safe_load(COMPOSE_CONFIG.read_text(encoding="utf-8"))
    return f"{folder.target}/config.yaml", data


def test_compose_mounts_the_config_folder_not_the_file(compose: dict[str, object]) -> None:
    """A single-file mount keeps showing the old file after an editor's rename, so a SIGHUP
    would reload stale settings; inline configs are copied in and refused by read_only."""
    assert "configs" not in compose
    for name in ("svimaged", "svimaged-once"):
        service = service_of(compose, name)
        assert "configs" not in service
        assert not [m for m in mounts(service).values() if m.target.endswith(".yaml")]


def test_compose_bind_mounts_the_recordings_into_both_containers(
    compose: dict[str, object],
) -> None:
    """Plain bind mounts of one host folder (its owner, mode and set-group-ID bit stay);
    no named volume for it, which would take the image's owner (moby#35486)."""
    ours = mounts(service_of(compose, "svimaged"))["/recordings"]
    (theirs,) = [m for m in mounts(service_of(compose, "jellyfin")).values() if m.kind == "bind"]
    assert (ours.kind, theirs.kind) == ("bind", "bind")
    assert ours.source == theirs.source and ours.source.startswith("${RECORDINGS_DIR")
    assert not ours.read_only and theirs.read_only
    for name, volume in (compose.get("volumes") or {}).items():  # type: ignore[attr-defined]
        assert "bind" not in json.dumps(volume or {}), f"volume {name} binds a host folder"
        assert "recordings" not in name


def test_compose_maps_the_paths_for_jellyfin(compose: dict[str, object]) -> None:
    (jellyfin,) = [m for m in mounts(service_of(compose, "jellyfin")).values() if m.kind == "bind"]
    target, data = svimaged_config(compose)
    config = parse_config(data, {})
    assert config.recordings == Path("/recordings")
    assert [(e.src, e.dst) for e in config.nfo.path_map] == [("/recordings", jellyfin.target)]
    assert jellyfin.target == "/data/tv"
    assert Path(target) == config_path_from(None, {})
    state = mounts(service_of(compose, "svimaged"))[str(config.state_dir)]
    assert (state.kind, state.source) == ("volume", "svimaged-state")


def test_compose_is_ready_for_read_only_with_tmpfs_for_the_socket(
    compose: dict[str, object],
) -> None:
    """The socket folder on a tmpfs, writable for whatever `user:` runs it (the image's
    folder is read-only under read_only: true), /tmp for SQLite's temporary files, so that
    read_only: true (shown commented) is a one-line change."""
    service = service_of(compose, "svimaged")
    assert "read_only" not in service  # off by default: Podman 4's --read-only breaks the tmpfs
    assert "# read_only: true" in COMPOSE.read_text(encoding="utf-8")
    _, data = svimaged_config(compose)
    socket_dir = parse_config(data, {}).control.socket.parent
    tmpfs = service["tmpfs"]
    assert isinstance(tmpfs, list)
    assert {str(socket_dir), "/tmp"} <= {str(entry).split(":")[0] for entry in tmpfs}


def test_compose_runs_as_the_image_user_unless_told_otherwise(compose: dict[str, object]) -> None:
    """user: and group_add: are the documented choices, left commented in the example."""
    for name in ("svimaged", "svimaged-once"):
        service = service_of(compose, name)
        assert "user" not in service and "group_add" not in service
    text = COMPOSE.read_text(encoding="utf-8")
    assert '# user: "1000:1000"' in text and "# group_add:" in text


def test_compose_one_off_pass_has_no_health_check(compose: dict[str, object]) -> None:
    once = service_of(compose, "svimaged-once")
    assert once["command"] == ["run", "--once"]
    assert once["healthcheck"] == {"disable": True}
    assert once["profiles"] == ["once"] and once["restart"] == "no"
    assert "/run/svimaged" not in once["tmpfs"]  # type: ignore[operator]
    daemon = service_of(compose, "svimaged")
    for key in ("volumes", "environment", "image"):
        assert once[key] == daemon[key], key


def test_compose_passes_secrets_from_the_environment_only(compose: dict[str, object]) -> None:
    env = service_of(compose, "svimaged")["environment"]
    assert isinstance(env, dict)
    for key in ("SVIMAGED_TWITCH_CLIENT_ID", "SVIMAGED_TWITCH_CLIENT_SECRET"):
        assert re.fullmatch(r"\$\{" + key + r"(:-)?\}", env[key]), env[key]
    _, data = svimaged_config(compose)
    assert "twitch" not in data
    assert "secrets" not in compose
    assert "SVIMAGED_SOCKET" not in env


def test_compose_gives_the_daemon_time_to_stop(compose: dict[str, object]) -> None:
    grace = service_of(compose, "svimaged")["stop_grace_period"]
    assert isinstance(grace, str) and int(grace.removesuffix("s")) > 10


# -------------------------------------------------------------------------- health check


@pytest.fixture(scope="module")
def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("svimaged_healthcheck", HEALTHCHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeControl:
    """A Unix socket in tmp_path answering every connection with canned bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answer = b""
        self.requests: list[bytes] = []
        self.release = threading.Event()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                fake.requests.append(head)
                if fake.answer == b"HANG":
                    fake.release.wait(5)
                    return
                self.wfile.write(fake.answer)

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def control(tmp_path: Path) -> Iterator[FakeControl]:
    path = tmp_path / "c.sock"
    assert len(str(path)) < 100, "tmp_path too long for a Unix socket"
    fake = FakeControl(path)
    yield fake
    fake.close()


def http_answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body


def test_healthcheck_accepts_ok(control: FakeControl, healthcheck: ModuleType) -> None:
    control.answer = http_answer("200 OK", b'{"status": "ok", "version": "0.1.0"}')
    healthy, reason = healthcheck.check(str(control.path), 2.0)
    assert healthy, reason
    assert control.requests[0].startswith(b"GET /healthz HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "answer",
    [
        http_answer("503 Service Unavailable", b'{"status": "ok"}'),
        http_answer("200 OK", b'{"status": "stopping"}'),
        http_answer("200 OK", b"ok"),
        http_answer("200 OK", b'["ok"]'),
        b"garbage\r\n\r\n",
        b"",
    ],
    ids=["503", "not-ok", "not-json", "not-object", "not-http", "closed"],
)
def test_healthcheck_refuses_anything_else(
    control: FakeControl, healthcheck: ModuleType, answer: bytes
) -> None:
    control.answer = answer
    healthy, reason = healthcheck.check(str(control.path), 2.0)
    assert not healthy
    assert str(control.path) in reason


def test_healthcheck_gives_up_on_a_silent_daemon(
    control: FakeControl, healthcheck: ModuleType
) -> None:
    control.answer = b"HANG"
    healthy, reason = healthcheck.check(str(control.path), 0.2)
    assert not healthy and "timeout" in reason.lower()


def test_healthcheck_without_a_socket_fails(tmp_path: Path, healthcheck: ModuleType) -> None:
    healthy, reason = healthcheck.check(str(tmp_path / "missing.sock"), 1.0)
    assert not healthy and "FileNotFoundError" in reason
    (tmp_path / "plain").write_text("x")
    assert not healthcheck.check(str(tmp_path / "plain"), 1.0)[0]


def write_socket_config(folder: Path, socket_path: Path) -> Path:
    """A daemon config whose control.socket is `socket_path` (what the check must follow)."""
    config = folder / "config.yaml"
    (folder / "rec").mkdir(exist_ok=True)
    data = {
        "recordings": str(folder / "rec"),
        "state_dir": str(folder / "state"),
        "control": {"socket": str(socket_path)},
        "watch": {"mode": "polling", "settle_seconds": 0.2},
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


def script_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SVIMAGED_", "NOTIFY_"))}
    return {**env, "SVIMAGED_CONFIG": str(config), "SVIMAGED_HEALTHCHECK_TIMEOUT": "2"}


def run_script(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env=script_env(config),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_script_exit_codes(control: FakeControl, tmp_path: Path) -> None:
    control.answer = http_answer("200 OK", b'{"status": "ok", "version": "0.1.0"}')
    ok = run_script(write_socket_config(tmp_path, control.path))
    assert (ok.returncode, ok.stdout.split()[0]) == (0, "healthy")
    bad = run_script(write_socket_config(tmp_path, tmp_path / "nothing-here.sock"))
    assert (bad.returncode, bad.stdout.split()[0]) == (1, "unhealthy")


def test_healthcheck_asks_the_socket_of_the_daemons_config(
    tmp_path: Path, healthcheck: ModuleType
) -> None:
    """One source of truth: control.socket (the daemon's), no variable of its own."""
    socket_path = tmp_path / "elsewhere" / "c.sock"
    config = write_socket_config(tmp_path, socket_path)
    assert healthcheck.socket_path(script_env(config)) == socket_path
    stray = {**script_env(config), "SVIMAGED_SOCKET": str(tmp_path / "stray.sock")}
    assert healthcheck.socket_path(stray) == socket_path
    unreadable = script_env(tmp_path / "missing.yaml")
    assert healthcheck.socket_path(unreadable) == DEFAULT_SOCKET


def test_healthcheck_reuses_the_package_control_client(healthcheck: ModuleType) -> None:
    from svimaged.control.client import ControlClient

    assert healthcheck.ControlClient is ControlClient
    source = HEALTHCHECK.read_text(encoding="utf-8")
    assert "import socket" not in source and "http.client" not in source


def test_healthcheck_against_a_daemon_started_here(tmp_path: Path) -> None:
    """`svimaged run` for real: healthy while it runs, unhealthy once SIGTERM stopped it."""
    config = write_socket_config(tmp_path, tmp_path / "run" / "control.sock")
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "svimaged", "run"],
            env=script_env(config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        deadline = time.monotonic() + 20
        while b"daemon ready" not in log_path.read_bytes():
            assert daemon.poll() is None, log_path.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "daemon not ready in 20 s"
            time.sleep(0.05)
        ok = run_script(config)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.startswith(f"healthy socket={tmp_path / 'run' / 'control.sock'} ")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    gone = run_script(config)
    assert gone.returncode == 1 and gone.stdout.startswith("unhealthy "), gone.stdout


# ------------------------------------------------------------------------------ the docs


@pytest.mark.parametrize("doc", ["docs/running.md", "systemd/README.md", "README.md"])
def test_relative_links_in_the_running_docs_exist(doc: str) -> None:
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{doc}: broken link {target}"
