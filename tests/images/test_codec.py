"""Tests for svimaged.images.codec: sniffing, validation and conversion to JPEG."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator

import pytest
from PIL import Image, ImageFile

from svimaged.core.errors import InvalidImageError
from svimaged.images.codec import sniff, to_jpeg

from .pictures import crafted_png, decode, encode

RGB_JPEG = encode(Image.new("RGB", (32, 24), (200, 30, 30)), "JPEG")
PNG_RGB = encode(Image.new("RGB", (16, 16), (0, 128, 0)), "PNG")


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# --- sniff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RGB_JPEG, "jpeg"),
        (PNG_RGB, "png"),
        (encode(Image.new("RGB", (4, 4)), "WEBP"), "webp"),
        (encode(Image.new("P", (4, 4)), "GIF"), "gif"),
        (b"GIF87a" + b"\0" * 10, "gif"),
        (b"<!DOCTYPE html><html><body>404</body></html>", None),
        (b"", None),
        (b"just some text", None),
        (b"\xff\xd8", None),
        (b"\x89PNG\r\n", None),
        (b"RIFF\0\0\0\0WEB", None),
        (b"RIFF\0\0\0\0WAVEfmt ", None),
    ],
)
def test_sniff_table(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


# --- to_jpeg -----------------------------------------------------------------------------


def test_html_page_rejected_and_named() -> None:
    with pytest.raises(InvalidImageError, match="looks like HTML"):
        to_jpeg(b"\xef\xbb\xbf  <!doctype html><title>Error</title>")


@pytest.mark.parametrize("data", [b"", b"plain text", b'{"error": "nope"}'])
def test_non_images_rejected(data: bytes) -> None:
    with pytest.raises(InvalidImageError, match="not an image"):
        to_jpeg(data)


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_jpeg_rejected(keep: float) -> None:
    with pytest.raises(InvalidImageError, match="bad jpeg"):
        to_jpeg(RGB_JPEG[: int(len(RGB_JPEG) * keep)])


def test_truncated_png_rejected() -> None:
    data = encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    with pytest.raises(InvalidImageError):
        to_jpeg(data[: len(data) // 2])


def test_jpeg_magic_with_garbage_rejected() -> None:
    with pytest.raises(InvalidImageError, match="unrecognised"):
        to_jpeg(b"\xff\xd8\xff" + b"\0" * 100)


@pytest.mark.parametrize(
    "data",
    [
        RGB_JPEG,
        encode(Image.new("L", (20, 20), 99), "JPEG"),
        encode(Image.new("RGB", (40, 40), (1, 2, 3)), "JPEG", progressive=True),
    ],
)
def test_valid_jpeg_returned_byte_identical(data: bytes) -> None:
    assert to_jpeg(data) == data


def assert_rgb_jpeg(data: bytes) -> Image.Image:
    assert sniff(data) == "jpeg"
    image = decode(data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    return image


def test_png_with_alpha_composited_on_white() -> None:
    source = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    source.paste((0, 0, 255, 255), (0, 0, 5, 10))
    out = assert_rgb_jpeg(to_jpeg(encode(source, "PNG")))
    assert all(channel > 240 for channel in out.getpixel((8, 5)))  # type: ignore[union-attr]
    red, _green, blue = out.getpixel((2, 5))  # type: ignore[misc]
    assert blue > 150 and red < 120


def test_palette_png_with_transparency_converted() -> None:
    source = Image.new("P", (8, 8), 0)
    source.putpalette([0, 0, 0, 255, 255, 255] * 128)
    data = encode(source, "PNG", transparency=0)
    out = assert_rgb_jpeg(to_jpeg(data))
    assert all(channel > 240 for channel in out.getpixel((1, 1)))  # type: ignore[union-attr]


def test_animated_gif_first_frame() -> None:
    red = Image.new("RGB", (16, 16), (255, 0, 0))
    blue = Image.new("RGB", (16, 16), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2  # type: ignore[attr-defined]
    red_out, _green, blue_out = assert_rgb_jpeg(to_jpeg(data)).getpixel((8, 8))  # type: ignore[misc]
    assert red_out > 200 and blue_out < 60


def test_webp_converted() -> None:
    data = encode(Image.new("RGB", (12, 12), (0, 200, 0)), "WEBP")
    _red, green, _blue = assert_rgb_jpeg(to_jpeg(data)).getpixel((6, 6))  # type: ignore[misc]
    assert green > 150


def test_cmyk_jpeg_converted() -> None:
    data = encode(Image.new("CMYK", (12, 12), (0, 255, 255, 0)), "JPEG")
    out = to_jpeg(data)
    assert out != data
    assert_rgb_jpeg(out)


def test_sixteen_bit_png_converted() -> None:
    data = encode(Image.new("I;16", (8, 8), 40000), "PNG")
    red, green, blue = assert_rgb_jpeg(to_jpeg(data)).getpixel((4, 4))  # type: ignore[misc]
    assert 140 < red < 170 and red == green == blue


def test_decompression_bomb_header_rejected() -> None:
    with pytest.raises(InvalidImageError, match=r"bomb|too large"):
        to_jpeg(crafted_png(50_000, 50_000))


def test_pixel_cap_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_load)
    with pytest.raises(InvalidImageError, match="6000x6000"):
        to_jpeg(crafted_png(6000, 6000), max_pixels=1_000_000)


@pytest.mark.parametrize(
    ("action", "reason"), [("error", "decompression bomb"), ("ignore", "too large")]
)
def test_pillow_bomb_warning_zone_rejected(
    monkeypatch: pytest.MonkeyPatch, action: str, reason: str
) -> None:
    # 16x16 = 256 pixels: above Pillow's limit (warning), below twice the limit (no error).
    # Rejected whether the warning is an error (production filter) or silenced.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)  # type: ignore[arg-type]
        with pytest.raises(InvalidImageError, match=reason):
            to_jpeg(PNG_RGB)


def test_load_truncated_images_must_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InvalidImageError, match="LOAD_TRUNCATED_IMAGES"):
        to_jpeg(RGB_JPEG[: len(RGB_JPEG) // 2])


def test_other_formats_never_parsed() -> None:
    # A BMP Pillow could read, but the sniffer does not allow it.
    with pytest.raises(InvalidImageError, match="not an image"):
        to_jpeg(encode(Image.new("RGB", (4, 4)), "BMP"))
