"""The control API the server's routes call (contract section 7): `ControlApi` Protocol.

Written by the server helper because this file did not exist yet; the lead's `DaemonApi`
implementation goes below the Protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ControlApi(Protocol):
    """What the control server needs from the daemon. Every method may be called from many
    threads at once; errors are `SvimagedError` subclasses (mapped to HTTP by the server)."""

    images_root: Path  # <recordings>/.images, files served from here only
    version: str

    def shutting_down(self) -> bool:
        """True -> every route but /healthz answers 503."""
        ...

    def stats(self) -> dict[str, object]:
        """The contract's stats object."""
        ...

    def streamer(self, id_or_login: str) -> dict[str, object]:
        """Streamer info; raises NotFoundError."""
        ...

    def download_streamer(self, id_or_login: str, *, force: bool) -> dict[str, object]:
        """Download now; NotFoundError, FetchError/InvalidImageError/HelixError (-> 502)."""
        ...

    def category(self, name: str) -> dict[str, object]:
        """Category info; raises NotFoundError."""
        ...

    def download_category(self, name: str, *, force: bool) -> dict[str, object]:
        """Download now, as for streamers."""
        ...

    def start_sync(self, *, full: bool = False) -> str:
        """Queue a full pass; returns the job id."""
        ...

    def job(self, job_id: str) -> dict[str, object]:
        """{"job_id","state","done","total",...}; raises NotFoundError."""
        ...

    def wait_job(self, job_id: str, timeout: float) -> dict[str, object]:
        """Return when the job is done or after `timeout` seconds; a done sync's result has
        {"job_id","downloaded","failed","nfo_written","seconds"}. A job that failed raises
        its `SvimagedError` (500 `internal` for an unexpected exception)."""
        ...

    def cleanup(self, *, dry_run: bool) -> dict[str, object]:
        """{"profiles_cleaned","categories_cleaned","artwork_cleaned","total_cleaned",
        "bytes_freed", ...}; a cleanup that failed raises its `SvimagedError` (as above)."""
        ...

    def metrics(self) -> str:
        """Prometheus text exposition."""
        ...
