"""Deterministic generated images for tests and the demo.

The same `(width, height, seed)` always gives the same bytes, so ETags and hashes are stable.
Each image has a seed-chosen background and a few rectangles, so different seeds differ.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def _canvas(width: int, height: int, seed: int) -> Image.Image:
    """An RGB picture drawn from `seed`: background plus four coloured rectangles."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    rng = random.Random(seed)  # noqa: S311 - test pictures, not cryptography

    def colour() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    image = Image.new("RGB", (width, height), colour())
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = rng.randrange(x0, width + 1), rng.randrange(y0, height + 1)
        draw.rectangle((x0, y0, x1, y1), fill=colour())
    return image


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def make_png(width: int, height: int, seed: int = 0) -> bytes:
    """A PNG of the given size."""
    return _encode(_canvas(width, height, seed), "PNG")


def make_jpeg(width: int, height: int, seed: int = 0) -> bytes:
    """A baseline JPEG of the given size."""
    return _encode(_canvas(width, height, seed), "JPEG", quality=85)


def make_webp(width: int, height: int, seed: int = 0) -> bytes:
    """A lossy WebP of the given size."""
    return _encode(_canvas(width, height, seed), "WEBP", quality=80)


def make_gif_animated(width: int, height: int, seed: int = 0, frames: int = 3) -> bytes:
    """An animated GIF with `frames` (>= 2) different frames; the first is `seed`'s picture."""
    pictures = [_canvas(width, height, seed + n) for n in range(max(frames, 2))]
    return _encode(
        pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0
    )


def make_image(fmt: str, width: int, height: int, seed: int = 0) -> tuple[bytes, str]:
    """Bytes and Content-Type for `fmt` in PNG, JPEG, WEBP or GIF (case-insensitive)."""
    makers = {
        "PNG": (make_png, "image/png"),
        "JPEG": (make_jpeg, "image/jpeg"),
        "JPG": (make_jpeg, "image/jpeg"),
        "WEBP": (make_webp, "image/webp"),
        "GIF": (make_gif_animated, "image/gif"),
    }
    try:
        maker, content_type = makers[fmt.upper()]
    except KeyError:
        raise ValueError(f"unknown image format {fmt!r}") from None
    return maker(width, height, seed), content_type
