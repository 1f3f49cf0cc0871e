"""The image CDN of the fake Twitch: deterministic generated images (small, see `pictures`)
at the URL shapes Twitch uses, ETag and Last-Modified validators with 304 answers, and
overrides a test sets (`set_image`, an HTML page where an image should be)."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate

from svimaged.demo.fake_http import Reply, error, not_modified
from svimaged.demo.pictures import make_image, make_jpeg

#: Last-Modified of the first image served; later images get later times.
_LAST_MODIFIED_BASE = 1_790_000_000

IMAGE_EXTENSIONS = {"PNG": "png", "JPEG": "jpeg", "JPG": "jpeg", "WEBP": "webp", "GIF": "gif"}
_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/cdn/jtv_user_pictures/(\d+)-profile_image-300x300\.\w+"), "profile"),
    (re.compile(r"/cdn/jtv_user_pictures/(\d+)-channel_offline_image-1920x1080\.jpeg"), "offline"),
    (re.compile(r"/cdn/ttv-boxart/(\d+)-\d+x\d+\.jpg"), "box_art"),
    (re.compile(r"/cdn/ttv-static/(404)_boxart-\d+x\d+\.jpg"), "404_boxart"),
    (re.compile(r"/cdn/cf_vods/(\d+)/thumb/thumb0-\d+x\d+\.jpg"), "thumbnail"),
)
#: Generated image sizes (small on purpose, to keep tests fast).
_SIZES = {
    "profile": (64, 64),
    "offline": (192, 108),
    "box_art": (120, 160),
    "404_boxart": (120, 160),
    "thumbnail": (128, 72),
}


def cdn_path(kind: str, key: str, fmt: str = "PNG") -> str:
    """The (filled) CDN path of `kind`: profile (user id; `fmt` gives the extension), offline
    (user id), box_art (game id), 404_boxart (any key) or thumbnail (video id)."""
    paths = {
        "profile": f"/cdn/jtv_user_pictures/{key}-profile_image-300x300.{IMAGE_EXTENSIONS[fmt]}",
        "box_art": f"/cdn/ttv-boxart/{key}-285x380.jpg",
        "404_boxart": "/cdn/ttv-static/404_boxart-285x380.jpg",
        "thumbnail": f"/cdn/cf_vods/{key}/thumb/thumb0-1280x720.jpg",
        "offline": f"/cdn/jtv_user_pictures/{key}-channel_offline_image-1920x1080.jpeg",
    }
    return paths[kind]


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    content_type: str
    etag: str
    last_modified: int


class FakeCdn:
    """Serves images; `source_format(kind, key)` says which exist (and in what format)."""

    def __init__(self, source_format: Callable[[str, str], str | None]) -> None:
        self._source_format = source_format
        self._lock = threading.Lock()
        self._overrides: dict[str, _Blob] = {}
        self._blobs: dict[tuple[str, str], _Blob] = {}
        self._generation = 0

    def set_image(self, path: str, data: bytes, content_type: str) -> None:
        """Serve `data` at `path` from now on, with a new ETag and a later Last-Modified."""
        with self._lock:
            self._overrides[path] = self._new_blob(data, content_type)

    def answer(self, path: str, headers: Mapping[str, str]) -> tuple[Reply, str]:
        """The reply for one image request and the counter it goes to (`cdn`, `cdn_304`)."""
        blob = self._blob_for(path)
        if blob is None:
            return error(404, "image not found"), "cdn"
        validators = {
            "ETag": blob.etag,
            "Last-Modified": formatdate(blob.last_modified, usegmt=True),
            "Cache-Control": "max-age=86400",
        }
        if not_modified(blob.etag, blob.last_modified, headers):
            return Reply(304, validators, b""), "cdn_304"
        return Reply(200, {"Content-Type": blob.content_type, **validators}, blob.data), "cdn"

    def _blob_for(self, path: str) -> _Blob | None:
        with self._lock:
            if path in self._overrides:
                return self._overrides[path]
        for pattern, kind in _ROUTES:
            match = pattern.fullmatch(path)
            if match:
                return self._generated(kind, match.group(1))
        return None

    def _generated(self, kind: str, key: str) -> _Blob | None:
        """The generated image for (kind, key), made once; None when the fake has none."""
        fmt = self._source_format(kind, key)
        with self._lock:
            if (kind, key) in self._blobs:
                return self._blobs[(kind, key)]
            if fmt is None:
                return None
            width, height = _SIZES[kind]
            seed = zlib.crc32(f"{kind}:{key}".encode())
            if fmt == "404":
                data, ctype = make_jpeg(width, height, seed=0), "image/jpeg"
            else:
                data, ctype = make_image(fmt, width, height, seed)
            blob = self._blobs[(kind, key)] = self._new_blob(data, ctype)
            return blob

    def _new_blob(self, data: bytes, content_type: str) -> _Blob:
        """A blob with a content ETag and the next Last-Modified time (caller holds lock)."""
        self._generation += 1
        etag = '"' + format(zlib.crc32(data), "08x") + f"-{len(data)}" + '"'
        return _Blob(data, content_type, etag, _LAST_MODIFIED_BASE + 3600 * self._generation)
