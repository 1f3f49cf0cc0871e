"""Whether Kodi can show an art URL: Kodi's `image://` URLs unwrapped to the picture file,
and that file decoded to the last pixel."""

from __future__ import annotations

import io
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """Whether Kodi can show one art URL (and the picture's format), or why not."""

    url: str
    target: str  # the wrapped path or URL
    ok: bool
    format: str = ""  # Pillow's name for it: JPEG, PNG, ...
    reason: str = ""


def unwrap_image_url(url: str) -> str:
    """The path or URL inside Kodi's `image://<url-encoded>/` art URL (Kodi's
    `CTextureUtils::UnwrapImageURL`); other values come back as they are."""
    if not url.startswith("image://"):
        return url
    return urllib.parse.unquote(url.removeprefix("image://").removesuffix("/"))


def decode_image(data: bytes) -> str:
    """The image format Pillow finds after decoding `data` to the last pixel, or ''."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return str(img.format or "")
    except Exception:
        return ""


def local_picture(target: str) -> tuple[str, str]:
    """(format, '') when `target` is an absolute path to a picture that decodes whole (a
    JPEG must also start with the JPEG magic bytes), else ('', why not)."""
    scheme = target.split("/", 1)[0]
    if "@" in scheme:
        return "", f"made by Kodi from the media ({scheme.split('@', 1)[0]}@), no picture file"
    if not target.startswith("/"):
        return "", "not an absolute local path (Kodi's default icon or a remote URL)"
    path = Path(target)
    if not path.is_file():
        return "", "file does not exist"
    data = path.read_bytes()
    found = decode_image(data)
    if not found:
        return "", f"does not decode as a picture (starts with {data[:4]!r})"
    if found == "JPEG" and not data.startswith(b"\xff\xd8\xff"):
        return "", "JPEG without the JPEG magic bytes"
    return found, ""
