"""The client commands of contract section 8 (`stats`, `sync`, `cleanup`, `streamer`,
`category`): one request (or a polled job) through `ControlClient`, then readable output.

Each `cmd_*` returns the exit code (0 ok, 1 the operation failed) and lets the client's
`DaemonUnreachableError` (3) and `ControlError` (1) pass to the CLI. Results go to `out`
(stdout), progress and problems to `err` (stderr). The `format_*` functions are pure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from svimaged.control.client import ControlClient, ControlError, quote_segment

#: Seconds between two `GET /api/jobs/{id}` while `sync` waits.
POLL_INTERVAL = 0.5
#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_EVERY = 2.0
#: Cleanup and single downloads run to the end inside one request: wait long for them.
LONG_TIMEOUT = 3660.0
BAR_WIDTH = 30


# -- pure formatting ----------------------------------------------------------------------


def format_bytes(count: object) -> str:
    """`1234567` -> `1.2 MiB`; below 1 KiB the exact count (`512 B`); not a number -> `?`."""
    if isinstance(count, bool) or not isinstance(count, int | float):
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _at(data: Mapping[str, object], *keys: str) -> object:
    """`data[k1][k2]...`, or None where a level is missing or not an object."""
    value: object = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _show(value: object) -> str:
    """A JSON value for a human: None -> `-`, booleans yes/no, the rest as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def format_stats(stats: Mapping[str, object]) -> str:
    """The stats object as an aligned table (counts per kind, then the daemon's queues)."""
    rows = [
        ("profiles", ("profiles", "cached_profiles"), ("profiles", "failed_downloads"), ""),
        (
            "categories",
            ("categories", "cached_categories"),
            ("categories", "failed_downloads"),
            "",
        ),
        (
            "artwork",
            ("artwork", "cached_artworks"),
            ("artwork", "failed_downloads"),
            f"  ({_show(_at(stats, 'artwork', 'streamers_with_artwork'))} streamers)",
        ),
        ("total", ("total_cached",), ("total_failed",), ""),
    ]
    lines = [f"{'images':<18}{'cached':>8}{'failed':>8}"]
    for label, cached, failed, note in rows:
        lines.append(
            f"{label:<18}{_show(_at(stats, *cached)):>8}{_show(_at(stats, *failed)):>8}{note}"
        )
    size = _at(stats, "bytes_on_disk")
    details = [
        ("bytes on disk", f"{format_bytes(size)} ({_show(size)} bytes)"),
        (
            "queue",
            f"{_show(_at(stats, 'queue', 'pending'))} pending, "
            f"{_show(_at(stats, 'queue', 'retrying'))} retrying",
        ),
        (
            "nfo",
            f"{_show(_at(stats, 'nfo', 'written'))} written, "
            f"{_show(_at(stats, 'nfo', 'up_to_date'))} up to date, "
            f"{_show(_at(stats, 'nfo', 'errors'))} errors",
        ),
        ("last sync", _show(_at(stats, "last_sync")) if stats.get("last_sync") else "never"),
    ]
    needs = stats.get("needs_credentials")
    if isinstance(needs, int) and needs > 0:
        details.append(("needs credentials", f"{needs} lookups (no Twitch credentials)"))
    notify = stats.get("notify")
    for name, row in notify.items() if isinstance(notify, Mapping) else ():
        details.append((f"notify {name}", format_notify(row)))
    lines.append("")
    lines.extend(f"{label:<18}{value}" for label, value in details)
    return "\n".join(lines) + "\n"


def format_notify(row: object) -> str:
    """One media server's counters: `3 sent, 1 failed, last success <time>` and, when its
    last attempt failed, why."""
    data: Mapping[str, object] = row if isinstance(row, Mapping) else {}
    sent, failed = _show(data.get("sent")), _show(data.get("failed"))
    success, failure = data.get("last_success"), data.get("last_failure")
    line = f"{sent} sent, {failed} failed, last success {_show(success) if success else 'never'}"
    if isinstance(failure, str) and (not isinstance(success, str) or failure > success):
        line += f" (last attempt failed: {_show(data.get('last_error'))})"
    return line


def progress_bar(done: int, total: int, width: int = BAR_WIDTH, *, finished: bool = False) -> str:
    """`[#####.....] 120/400`; an unknown total (0) shows an empty bar and `done/?`, or a
    full one when `finished`."""
    if total <= 0 and finished:
        return f"[{'#' * width}] {done}/{done}"
    if total <= 0:
        return f"[{'.' * width}] {done}/?"
    filled = max(0, min(width, done * width // total))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def sync_summary(result: Mapping[str, object]) -> str:
    """`downloaded N, failed N, nfo written N in S s` from a finished sync job."""
    seconds = result.get("seconds")
    shown = f"{seconds:.2f}" if isinstance(seconds, int | float) else _show(seconds)
    return (
        f"downloaded {_show(result.get('downloaded'))}, failed {_show(result.get('failed'))}, "
        f"nfo written {_show(result.get('nfo_written'))} in {shown} s"
    )


def format_info(info: Mapping[str, object]) -> str:
    """A streamer or category object as `key: value` lines, in the daemon's order."""
    return "".join(f"{key}: {_show(value)}\n" for key, value in info.items())


def format_cleanup(result: Mapping[str, object]) -> str:
    """Each file removed (or that would be), the foreign files left alone, then totals."""
    dry = bool(result.get("dry_run"))
    verb = "would remove" if dry else "removed"
    files = result.get("files")
    foreign = result.get("foreign")
    lines = [f"{verb} {rel}" for rel in (files if isinstance(files, list) else [])]
    lines += [
        f"foreign (left alone) {rel}" for rel in (foreign if isinstance(foreign, list) else [])
    ]
    total = result.get("total_cleaned")
    lines.append(
        f"{verb} {_show(total)} {'file' if total == 1 else 'files'}: "
        f"{_show(result.get('profiles_cleaned'))} profiles, "
        f"{_show(result.get('categories_cleaned'))} categories, "
        f"{_show(result.get('artwork_cleaned'))} artwork"
        + (
            f", {_show(result.get('temporary_cleaned'))} temporary"
            if "temporary_cleaned" in result
            else ""
        )
        + f"; {format_bytes(result.get('bytes_freed'))} "
        + ("would be freed" if dry else "freed")
    )
    if isinstance(foreign, list) and foreign:
        lines.append(
            f"{len(foreign)} foreign {'file' if len(foreign) == 1 else 'files'} in the cache "
            "folder left alone (svimaged deletes only files it names itself)"
        )
    return "\n".join(lines) + "\n"


# -- commands -----------------------------------------------------------------------------


def cmd_stats(client: ControlClient, *, as_json: bool, out: TextIO) -> int:
    """`svimaged stats [--json]`."""
    stats = client.json("GET", "/api/images/stats")
    out.write(_dump(stats) if as_json else format_stats(stats))
    return 0


def cmd_streamer(
    client: ControlClient,
    id_or_login: str,
    *,
    download: bool,
    force: bool = False,
    as_json: bool = False,
    out: TextIO,
) -> int:
    """`svimaged streamer ID_OR_LOGIN [--download [--force]]`."""
    path = f"/api/images/streamer/{quote_segment(id_or_login)}"
    return _info(client, path, download=download, force=force, as_json=as_json, out=out)


def cmd_category(
    client: ControlClient,
    name: str,
    *,
    download: bool,
    force: bool = False,
    as_json: bool = False,
    out: TextIO,
) -> int:
    """`svimaged category NAME [--download [--force]]` (the name may contain `/`)."""
    path = f"/api/images/category/{quote_segment(name)}"
    return _info(client, path, download=download, force=force, as_json=as_json, out=out)


def _info(
    client: ControlClient, path: str, *, download: bool, force: bool, as_json: bool, out: TextIO
) -> int:
    if download or force:
        query = {"force": "1"} if force else None
        info = client.json("POST", path + "/download", query=query, timeout=LONG_TIMEOUT)
    else:
        info = client.json("GET", path)
    out.write(_dump(info) if as_json else format_info(info))
    return 0


def cmd_cleanup(client: ControlClient, *, dry_run: bool, as_json: bool, out: TextIO) -> int:
    """`svimaged cleanup [--dry-run]` (the daemon first brings its state up to date)."""
    query = {"dry_run": "1"} if dry_run else None
    result = client.json("POST", "/api/images/cleanup", query=query, timeout=LONG_TIMEOUT)
    if "total_cleaned" not in result:  # e.g. `200 {}` from a daemon whose cleanup crashed
        raise ControlError("svimaged answered no cleanup result", status=200, code="bad_answer")
    out.write(_dump(result) if as_json else format_cleanup(result))
    return 0


def _dump(data: Mapping[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# -- sync ---------------------------------------------------------------------------------


@dataclass
class SyncView:
    """How `sync` and `run --once` show progress: a redrawn bar on a terminal, plain lines
    otherwise (`label` starts them)."""

    err: TextIO
    tty: bool
    enabled: bool = True
    monotonic: Callable[[], float] = time.monotonic
    label: str = "sync"
    _last_plain: float | None = field(default=None, init=False)
    _drawn: bool = field(default=False, init=False)

    def update(self, job: Mapping[str, object]) -> None:
        """Show the job's state (`state`, `done`, `total`)."""
        if not self.enabled:
            return
        done, total = _int(job.get("done")), _int(job.get("total"))
        state = _show(job.get("state"))
        if self.tty:
            bar = progress_bar(done, total, finished=state == "done")
            self.err.write(f"\r{bar} {state}\x1b[K")
            self.err.flush()
            self._drawn = True
            return
        now = self.monotonic()
        if self._last_plain is None or now - self._last_plain >= PLAIN_EVERY:
            self._last_plain = now
            shown = f"{done}/{total}" if total > 0 else f"{done}/?"
            self.err.write(f"{self.label} {_show(job.get('job_id'))} {state}: {shown}\n")
            self.err.flush()

    def close(self) -> None:
        """End the bar's line so what follows starts on a fresh one."""
        if self._drawn:
            self.err.write("\n")
            self.err.flush()
            self._drawn = False


def pass_progress(view: SyncView) -> Callable[[int, int], None]:
    """A pass's progress callback (`done` of `total` images and folders) drawn by `view`."""

    def progress(done: int, total: int) -> None:
        view.update({"job_id": "once", "state": "running", "done": done, "total": total})

    return progress


def cmd_sync(
    client: ControlClient,
    *,
    wait: bool,
    view: SyncView,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    full: bool = False,
) -> int:
    """`svimaged sync [--no-wait] [--no-progress] [--full]`: start a sync job, then (unless
    `wait` is False) poll it every `POLL_INTERVAL` seconds until it is done. Exit 1 when
    the job ends with an error."""
    started = client.json("POST", "/api/images/sync?full=1" if full else "/api/images/sync")
    job_id = str(started.get("job_id") or "")
    if not job_id:
        raise ControlError("svimaged did not answer a job id", status=202, code="bad_answer")
    if not wait:
        out.write(f"{job_id}\n")
        return 0
    path = f"/api/jobs/{quote_segment(job_id)}"
    try:
        job = client.json("GET", path)
        while job.get("state") in ("queued", "running"):
            view.update(job)
            sleep(POLL_INTERVAL)
            job = client.json("GET", path)
        view.update(job)
    except KeyboardInterrupt:
        view.close()
        view.err.write(f"sync job {job_id} goes on in the daemon (svimaged stats)\n")
        raise
    view.close()
    if job.get("error"):
        view.err.write(f"svimaged: sync job {job_id} failed: {job['error']}\n")
        return 1
    out.write(sync_summary(job) + "\n")
    return 0


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
