"""inotify out of watches in a running daemon (ENOSPC injected into the observer, the way
the kernel reports an exhausted fs.inotify.max_user_watches).

What must hold: the daemon starts anyway, watching by polling; the sysctl advice is logged
exactly once; a recording added afterwards is still seen and gets its NFO; the daemon stops
cleanly.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

import svimaged.daemon.watcher
from svimaged.daemon.lifecycle import Daemon
from svimaged.daemon.sdnotify import Notifier
from svimaged.demo.config import control_socket_for

from .conftest import EXIT_DEADLINE, wait_for, write_config

ADVICE = "sysctl fs.inotify.max_user_watches="


class _OutOfWatches(PollingObserver):
    """Stands in for the inotify Observer: scheduling a watch fails as inotify_add_watch
    does when fs.inotify.max_user_watches is exhausted."""

    def schedule(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_daemon_out_of_inotify_watches_polls_logs_advice_once_and_sees_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rec = tmp_path / "rec"
    (rec / "Alice Plays").mkdir(parents=True)
    config = write_config(
        tmp_path / "config.yaml",
        {
            "recordings": str(rec),
            "state_dir": str(tmp_path / "state"),
            "control": {"socket": str(control_socket_for(tmp_path / "state"))},
            "watch": {"mode": "inotify", "settle_seconds": 0.2, "poll_interval": 0.2},
        },
    )
    monkeypatch.setattr(svimaged.daemon.watcher, "Observer", _OutOfWatches)
    daemon = Daemon(config, {}, notifier=Notifier({}))
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run()), name="test-daemon")
    with caplog.at_level(logging.INFO):
        thread.start()
        try:
            wait_for(lambda: "daemon ready" in caplog.text, "the daemon to be ready")
            assert "mode=polling" in caplog.text
            wait_for(lambda: "rescan done" in caplog.text, "the start-up rescan")
            video = rec / "Alice Plays" / "Season 2026-11" / "alice_plays - S202611E01 - Hi.mp4"
            video.parent.mkdir()
            video.write_bytes(b"x")
            os.utime(video, (time.time() - 3600,) * 2)
            wait_for(video.with_suffix(".nfo").exists, "the NFO of a file added later", 10)
        finally:
            daemon.request_stop()
            thread.join(EXIT_DEADLINE)
    assert not thread.is_alive() and codes == [0]
    assert caplog.text.count(ADVICE) == 1
    assert "error=ENOSPC" in caplog.text
