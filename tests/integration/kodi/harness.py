"""One Kodi 20 under one Xvfb, driven over JSON-RPC: Debian's `kodi.bin`, headless.

`KodiHarness.start()` starts Xvfb on a free display (Xvfb picks it and reports it through
`-displayfd`), writes the throw-away profile (`profile.py`) into a HOME below `workdir` and
starts Kodi, then waits until JSON-RPC answers. Kodi and Xvfb run in sessions of their own
and get SIGKILL if the test process dies, however it dies.

Kodi 20's JSON-RPC cannot set a source's content. The GUI's "Set content" dialog stores it as
one row of the video database's `path` table (`CVideoDatabase::SetScraperForPath`:
`strContent`, `strScraper`, `scanRecursive`, `useFolderNames`, `strSettings`, `noUpdate`,
`exclude`). `set_tv_source()` writes that row with sqlite3 once Kodi has created its
database: content `tvshows`, scraper `metadata.local` ("Local information only").

The harness talks to Kodi over 127.0.0.1 only. `stop()` asks Kodi to quit
(Application.Quit), then terminates and kills its process group and Xvfb's, each with a
deadline. `log_tail()` is what failure messages attach.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.kodi.art import ImageCheck, decode_image, local_picture, unwrap_image_url
from tests.integration.kodi.profile import write_profile

#: How long Kodi may take to answer JSON-RPC after its start (2-core machine: about 0.5 s).
START_DEADLINE = 90.0
#: How long one library scan may take (the test library: about 0.3 s).
SCAN_DEADLINE = 120.0
#: How long Kodi, then Xvfb, get to exit after being asked.
EXIT_DEADLINE = 15.0
POLL = 0.1
PR_SET_PDEATHSIG = 1
LOG_TAIL_LINES = 80
#: Log lines that say why Kodi could not start.
_FATAL = re.compile(r" (error|critical|fatal) |ERROR:|Unable to", re.IGNORECASE)
#: Log lines that say nothing about a failure (no sound card, no GPU, no D-Bus here).
_LOG_NOISE = re.compile(
    r"ActiveAE|OpenSink|CAESink|GL_EXTENSIONS|DBus|VDPAU|vdpau|libva|Zeroconf|FindAddons|"
    r"Loading skin file|Adding remote mapping|keymaps/|resource\.language"
)

EPISODE_PROPERTIES = [
    "title",
    "season",
    "episode",
    "art",
    "file",
    "showtitle",
    "plot",
    "userrating",
]
SEASON_PROPERTIES = ["season", "episode", "art", "showtitle"]
TVSHOW_PROPERTIES = ["title", "art", "file", "season", "episode", "tag", "plot"]


class KodiError(RuntimeError):
    """Kodi or Xvfb could not be started, did not answer, or answered an error."""


class KodiUnavailable(KodiError):
    """Kodi or Xvfb is not installed, or cannot start in this environment (a skip reason)."""


@dataclass(frozen=True, slots=True)
class Binaries:
    """The programs the harness runs."""

    kodi: str
    xvfb: str


def find_binaries() -> Binaries:
    """Kodi's real binary (not the `kodi` wrapper script, which restarts Kodi and runs gdb on
    a crash) and Xvfb; raises `KodiUnavailable` naming what is missing."""
    xvfb = shutil.which("Xvfb")
    candidates = [os.environ.get("SVIMAGED_TEST_KODI_BIN", "")]
    candidates += [shutil.which("kodi.bin") or ""]
    candidates += sorted(str(p) for p in Path("/usr/lib").glob("*/kodi/kodi.bin"))
    candidates += ["/usr/lib/kodi/kodi.bin", "/usr/local/lib/kodi/kodi.bin"]
    kodi = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    missing = [name for name, found in (("kodi", kodi), ("Xvfb", xvfb)) if not found]
    if missing:
        raise KodiUnavailable(f"{' and '.join(missing)} not installed (apt-get install kodi xvfb)")
    assert kodi is not None and xvfb is not None
    return Binaries(kodi=kodi, xvfb=xvfb)


def free_port() -> int:
    """A TCP port that is free on every interface right now (Kodi binds all of them)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))  # the port Kodi will bind (all interfaces)
        return int(sock.getsockname()[1])


def wait_for(
    what: str,
    check: Callable[[], bool],
    deadline: float,
    on_timeout: Callable[[], str] = lambda: "",
) -> None:
    """Poll `check` every POLL seconds until it is true; `KodiError` after `deadline` s."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise KodiError(f"{what}: not within {deadline:.0f} s\n{on_timeout()}")
        time.sleep(POLL)


@dataclass(frozen=True, slots=True)
class SeasonRow:
    """One row of Kodi's `seasons` table: the show (JSON-RPC's tvshowid), the season
    number (-1 is Kodi's "All seasons" entry, 0 the specials) and its episodes."""

    tvshowid: int
    season: int
    episodes: int


# ------------------------------------------------------------------------ the process


@dataclass
class KodiHarness:
    """One Kodi under one Xvfb, with its profile in `workdir`; see the module docstring."""

    workdir: Path
    source: Path
    binaries: Binaries = field(default_factory=find_binaries)
    username: str = "kodi"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = 0
    display: str = ""
    _xvfb: subprocess.Popen[bytes] | None = None
    _kodi: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    @property
    def userdata(self) -> Path:
        return self.home / ".kodi" / "userdata"

    @property
    def log_path(self) -> Path:
        return self.home / ".kodi" / "temp" / "kodi.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> KodiHarness:
        """Start Xvfb and Kodi and wait until JSON-RPC answers. `KodiUnavailable` when Xvfb
        or Kodi cannot run here at all, `KodiError` (with the log) when Kodi misbehaves."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_xvfb()
            self.port = free_port()
            write_profile(
                self.home,
                port=self.port,
                username=self.username,
                password=self.password,
                source=self.source,
            )
            self._start_kodi()
            wait_for("Kodi's JSON-RPC", self._answers, START_DEADLINE, self.log_tail)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_xvfb(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            with (self.workdir / "xvfb.log").open("wb") as log:
                self._xvfb = subprocess.Popen(
                    [self.binaries.xvfb, "-displayfd", str(write_fd), "-screen", "0",
                     "1280x720x24", "-nolisten", "tcp", "-noreset"],
                    pass_fds=(write_fd,),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )  # fmt: skip
            os.close(write_fd)
            write_fd = -1
            number = _read_line(read_fd, START_DEADLINE)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        if not number.isdigit():
            said = (self.workdir / "xvfb.log").read_text("utf-8", "replace")[-2000:].strip()
            raise KodiUnavailable(f"Xvfb cannot start here: {said or 'no display number'}")
        self.display = f":{number}"

    def _start_kodi(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")
        }
        env.update(
            HOME=str(self.home),
            DISPLAY=self.display,
            LIBGL_ALWAYS_SOFTWARE="1",
            KODI_AE_SINK="ALSA",
            LANG="C.UTF-8",
        )
        with (self.workdir / "kodi.out").open("wb") as out:
            self._kodi = subprocess.Popen(
                [self.binaries.kodi, "--windowing=x11"],
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _answers(self) -> bool:
        if self._kodi is not None and self._kodi.poll() is not None:
            errors = [line for line in self.log_tail(400).splitlines() if _FATAL.search(line)]
            last = "; ".join(line.split(">: ", 1)[-1] for line in errors[-3:])
            raise KodiUnavailable(
                f"Kodi exited with {self._kodi.returncode} before answering: {last or '?'}"
            )
        if re.search(rf"CWebserver\[{self.port}\]>: Failed", self._log_text()):
            raise KodiError(f"Kodi's web server did not start\n{self.log_tail()}")
        try:
            return bool(self.call("JSONRPC.Ping", timeout=2) == "pong")
        except (OSError, KodiError):
            return False

    def stop(self) -> None:
        """Quit Kodi (JSON-RPC, then SIGTERM, then SIGKILL to its process group) and Xvfb;
        idempotent; never leaves a process of theirs behind."""
        kodi, self._kodi = self._kodi, None
        if kodi is not None:
            asked = False
            if kodi.poll() is None:
                with contextlib.suppress(OSError, KodiError):
                    asked = self.call("Application.Quit", timeout=5) == "OK"
            _end(kodi, EXIT_DEADLINE, asked=asked)
        xvfb, self._xvfb = self._xvfb, None
        if xvfb is not None:
            _end(xvfb, EXIT_DEADLINE, asked=False)

    def __enter__(self) -> KodiHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` informative lines of kodi.log, Kodi's output and Xvfb's log (the
        noise of a machine without sound card, GPU or D-Bus left out), for failure messages."""
        parts: list[str] = []
        for path in (self.log_path, self.workdir / "kodi.out", self.workdir / "xvfb.log"):
            if path.is_file():
                text = path.read_text("utf-8", "replace").splitlines()
                kept = [line[:300] for line in text if not _LOG_NOISE.search(line)]
                parts.append(f"--- {path.name} (last {lines} lines) ---")
                parts.extend(kept[-lines:])
        return "\n".join(parts)

    # -- JSON-RPC -----------------------------------------------------------------------

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30
    ) -> Any:
        """One JSON-RPC request over HTTP; returns `result`, raises `KodiError` on `error`."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base_url}/jsonrpc",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )
        try:
            with _opener().open(request, timeout=timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            raise KodiError(f"{method}: HTTP {exc.code}") from exc
        if "error" in answer:
            raise KodiError(f"{method}: {answer['error']}")
        return answer.get("result")

    def get_image(self, art_url: str, *, timeout: float = 30) -> tuple[int, bytes]:
        """GET the art URL through Kodi's `/image/` endpoint: (status, body)."""
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base_url}/image/{urllib.parse.quote(art_url, safe='')}",
            headers={"Authorization": f"Basic {auth}"},
        )
        try:
            with _opener().open(request, timeout=timeout) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), b""

    # -- library ------------------------------------------------------------------------

    def video_database(self) -> Path | None:
        """Kodi's video database (`MyVideos<version>.db`), once Kodi has created it."""
        found = sorted(
            (self.userdata / "Database").glob("MyVideos*.db"),
            key=lambda p: int(re.sub(r"\D", "", p.stem) or 0),
        )
        return found[-1] if found else None

    def set_tv_source(self, folder: Path | None = None) -> None:
        """Give `folder` (default: the source) the content TV shows and the scraper
        "Local information only", as the GUI's Set content dialog would (one `path` row)."""
        path = str(folder or self.source).rstrip("/") + "/"
        wait_for("the video database", self._has_path_table, START_DEADLINE, self.log_tail)
        db = self.video_database()
        assert db is not None
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn, conn:
            row = conn.execute("SELECT idPath FROM path WHERE strPath = ?", (path,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO path (strPath) VALUES (?)", (path,))
            conn.execute(
                "UPDATE path SET strContent = 'tvshows', strScraper = 'metadata.local',"
                " scanRecursive = 0, useFolderNames = 0, strSettings = '', noUpdate = 0,"
                " exclude = 0 WHERE strPath = ?",
                (path,),
            )

    def _has_path_table(self) -> bool:
        db = self.video_database()
        if db is None:
            return False
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
                found = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'path'"
                ).fetchone()
        except sqlite3.Error:
            return False
        return found is not None

    def _log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.is_file() else ""

    def _finished_scans(self) -> int:
        return self._log_text().count("VideoInfoScanner: Finished scan")

    def is_scanning(self) -> bool:
        booleans = self.call("XBMC.GetInfoBooleans", {"booleans": ["Library.IsScanningVideo"]})
        return bool(booleans["Library.IsScanningVideo"])

    def scan(self, directory: Path | None = None) -> None:
        """VideoLibrary.Scan (the whole library, or one folder) and wait until Kodi has
        finished it: its log reports one more finished scan and it is idle."""
        before = self._finished_scans()
        params: dict[str, Any] = {"showdialogs": False}
        if directory is not None:
            params["directory"] = str(directory).rstrip("/") + "/"
        self.call("VideoLibrary.Scan", params)
        wait_for(
            "VideoLibrary.Scan",
            lambda: self._finished_scans() > before and not self.is_scanning(),
            SCAN_DEADLINE,
            self.log_tail,
        )

    def tvshows(self) -> list[dict[str, Any]]:
        result = self.call("VideoLibrary.GetTVShows", {"properties": TVSHOW_PROPERTIES})
        return list(result.get("tvshows", []))

    def seasons(self, tvshowid: int) -> list[dict[str, Any]]:
        result = self.call(
            "VideoLibrary.GetSeasons", {"tvshowid": tvshowid, "properties": SEASON_PROPERTIES}
        )
        return list(result.get("seasons", []))

    def episodes(self, tvshowid: int) -> list[dict[str, Any]]:
        result = self.call(
            "VideoLibrary.GetEpisodes", {"tvshowid": tvshowid, "properties": EPISODE_PROPERTIES}
        )
        return list(result.get("episodes", []))

    def season_rows(self) -> list[SeasonRow]:
        """Every row of Kodi's `seasons` table with its episode count. JSON-RPC cannot show
        rows without episodes (`season_view` joins `episode`), but Kodi keeps them."""
        db = self.video_database()
        if db is None:
            raise KodiError(f"no video database\n{self.log_tail()}")
        with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT seasons.idShow, seasons.season, COUNT(episode.idEpisode)"
                " FROM seasons LEFT JOIN episode ON episode.idShow = seasons.idShow"
                " AND episode.c12 = seasons.season"
                " GROUP BY seasons.idSeason ORDER BY seasons.idShow, seasons.season"
            ).fetchall()
        return [SeasonRow(int(show), int(season), int(count)) for show, season, count in rows]

    def image_loads(self, art_url: str) -> ImageCheck:
        """Whether Kodi can show `art_url`: it wraps an absolute path to a picture file that
        decodes whole, and Kodi's `/image/` endpoint serves it as a picture that decodes."""
        target = unwrap_image_url(art_url)
        found, problem = local_picture(target)
        if problem:
            return ImageCheck(art_url, target, False, reason=problem)
        status, body = self.get_image(art_url)
        if status != 200:
            return ImageCheck(art_url, target, False, found, f"Kodi's /image/ answered {status}")
        if not decode_image(body):
            return ImageCheck(art_url, target, False, found, "Kodi's /image/ sent no picture")
        return ImageCheck(art_url, target, True, found)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies, however it dies
    (Linux `PR_SET_PDEATHSIG`), so not even a killed test run leaves Kodi or Xvfb behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _read_line(fd: int, deadline: float) -> str:
    """Read from `fd` up to a newline, EOF or `deadline`. Xvfb writes the display number and
    the newline separately and dies if the pipe is closed in between."""
    data = b""
    end = time.monotonic() + deadline
    while not data.endswith(b"\n"):
        ready, _w, _x = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace").strip()


def _opener() -> urllib.request.OpenerDirector:
    """An opener without proxies: the harness only ever talks to 127.0.0.1."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _end(process: subprocess.Popen[bytes], deadline: float, *, asked: bool) -> None:
    """End `process`: wait `deadline` s when it was `asked` to quit, then SIGTERM, then
    SIGKILL its process group (it was started in a session of its own, so the group is
    exactly it and its children)."""
    steps = (None, signal.SIGTERM, signal.SIGKILL) if asked else (signal.SIGTERM, signal.SIGKILL)
    for sig in steps:
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        try:
            process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            continue
        break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything the leader left behind
