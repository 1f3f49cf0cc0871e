"""Artwork from the recording itself: one frame at 10 % of the duration, with ffmpeg.

Used only with `artwork.ffmpeg: true`, only for finished recordings, and only when no other
artwork source has an image. ffprobe reads the duration, ffmpeg writes one JPEG frame to a
pipe; both run with a timeout, at most one at a time, never through a shell.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from svimaged.core.errors import InvalidImageError

log = logging.getLogger(__name__)

FRAME_AT = 0.10
TIMEOUT = 60.0
MAX_FRAME_BYTES = 10 * 1024 * 1024

_one_at_a_time = threading.Lock()
_missing_logged = threading.Event()


def ffmpeg_available() -> bool:
    """True when both ffmpeg and ffprobe are on PATH (logs once when they are not)."""
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return True
    if not _missing_logged.is_set():
        _missing_logged.set()
        log.warning(
            "artwork.ffmpeg is on but ffmpeg/ffprobe are not on PATH: no frames are grabbed "
            "(install ffmpeg, e.g. apt-get install ffmpeg)"
        )
    return False


def duration_of(video: Path, *, timeout: float = TIMEOUT) -> float:
    """The video's duration in seconds, from ffprobe. Raises `InvalidImageError`."""
    done = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
            "--",
            str(video),
        ],
        timeout,
        video,
    )
    try:
        value = float(json.loads(done)["format"]["duration"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidImageError(f"ffprobe found no duration in {video}") from exc
    if not value > 0:
        raise InvalidImageError(f"ffprobe found no duration in {video}")
    return value


def grab_frame(video: Path, *, timeout: float = TIMEOUT) -> bytes:
    """JPEG bytes of the frame at 10 % of the duration. Raises `InvalidImageError`."""
    with _one_at_a_time:
        at = duration_of(video, timeout=timeout) * FRAME_AT
        data = _run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-ss",
                f"{at:.3f}",
                "-i",
                str(video),
                "-frames:v",
                "1",
                "-f",
                "image2pipe",
                "-vcodec",
                "mjpeg",
                "-",
            ],
            timeout,
            video,
        )
    if not data:
        raise InvalidImageError(f"ffmpeg produced no frame for {video}")
    return data


def _run(argv: list[str], timeout: float, video: Path) -> bytes:
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise InvalidImageError(f"{argv[0]} timed out after {timeout:.0f} s on {video}") from exc
    except OSError as exc:
        raise InvalidImageError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise InvalidImageError(f"{argv[0]} failed on {video}: {reason[0][:200]}")
    if len(done.stdout) > MAX_FRAME_BYTES:
        raise InvalidImageError(f"{argv[0]} output too large for {video}")
    return done.stdout
