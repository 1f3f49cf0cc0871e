"""Image validation and conversion to JPEG (contract sections 3.1 and 5).

`sniff` trusts magic bytes only, never names or Content-Type. `to_jpeg` lets Pillow parse
only the sniffed format, refuses decompression bombs before any pixel is decoded and
truncated files when they are decoded, and returns a valid RGB/L JPEG unchanged (so its
sha256 is stable; only bytes after its end-of-image marker, such as an appended ZIP or HTML,
are cut off) or a fresh RGB JPEG otherwise. Only `InvalidImageError` leaves this module.
"""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageFile, UnidentifiedImageError

from svimaged.core.errors import InvalidImageError

MAX_PIXELS = 40_000_000

# Set once for the whole process (a per-call `warnings.catch_warnings` is not thread-safe);
# `to_jpeg` also checks the pixel count itself, so correctness does not rest on this filter.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
_UNCHANGED_JPEG_MODES = frozenset({"RGB", "L"})
# Pillow reports malformed input with many exception types; all mean "not a usable image".
_PIL_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    MemoryError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def sniff(data: bytes) -> str | None:
    """The image format by magic bytes: "jpeg", "png", "webp", "gif", or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def to_jpeg(data: bytes, *, max_pixels: int = MAX_PIXELS, quality: int = 90) -> bytes:
    """Return `data` as a JPEG or raise `InvalidImageError` with a short reason.

    A complete baseline/progressive JPEG in RGB or L mode comes back unchanged (same bytes);
    PNG, WebP, GIF (first frame), CMYK and other JPEGs are converted to RGB, transparency
    composited on white. More than `max_pixels` (or Pillow's own bomb limit) is refused
    before decoding.
    """
    fmt = sniff(data)
    if fmt is None:
        raise InvalidImageError(f"not an image ({_describe(data)})")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise InvalidImageError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; refusing to decode")
    try:
        with _open(data, fmt) as probe:
            _check_pixels(probe.size, max_pixels)
            probe.verify()
        with _open(data, fmt) as image:
            _check_pixels(image.size, max_pixels)
            image.seek(0)
            image.load()
            if fmt == "jpeg" and image.mode in _UNCHANGED_JPEG_MODES:
                end = jpeg_end(data)
                if end is not None:
                    return data if end == len(data) else data[:end]
            return _encode(image, quality)
    except InvalidImageError:
        raise
    except _PIL_ERRORS as exc:
        raise InvalidImageError(f"bad {fmt} image: {_reason(exc)}") from exc


#: Markers without a length field: TEM, RST0-7 (SOI and EOI are handled on their own).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_end(data: bytes) -> int | None:
    """The offset just past the end-of-image marker that closes the JPEG starting at byte 0,
    found by walking its segments and entropy-coded scans (so an EOI inside an EXIF
    thumbnail or after the image, in appended data, is not taken); None when the structure
    does not hold together (then the caller re-encodes)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, size = 2, len(data)
    while pos + 1 < size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 3 >= size:
            return None
        length = (data[pos + 2] << 8) | data[pos + 3]
        if length < 2:
            return None
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            pos = _scan_end(data, pos)
            if pos < 0:
                return None
    return None


def _scan_end(data: bytes, pos: int) -> int:
    """The offset of the first marker after entropy-coded data from `pos` (stuffed `FF 00`
    and restart markers are part of the data); -1 when the data runs out."""
    size = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= size:
            return -1
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def _open(data: bytes, fmt: str) -> Image.Image:
    """Open with Pillow restricted to the sniffed format (no other decoder ever runs)."""
    return Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"image has no pixels ({width}x{height})")
    if width * height > limit:
        raise InvalidImageError(
            f"image too large: {width}x{height} pixels over the limit of {limit}"
        )


def _encode(image: Image.Image, quality: int) -> bytes:
    """The current frame of `image` as an RGB JPEG, transparency on white."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if "A" in image.getbands() or image.mode in ("RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _describe(data: bytes) -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not data:
        return "empty"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "looks like HTML"
    if head.startswith(b"<"):
        return "looks like XML/HTML"
    if head.startswith((b"{", b"[")):
        return "looks like JSON"
    return "unknown format"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "decompression bomb (too many pixels)"
    if isinstance(exc, UnidentifiedImageError):
        return "unrecognised or corrupt data"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
