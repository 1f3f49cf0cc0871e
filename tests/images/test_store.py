"""Tests for svimaged.images.store: the atomic image store."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from svimaged.core.errors import InvalidImageError, SvimagedError, UnsafeNameError
from svimaged.core.names import artwork_rel, category_rel, profile_rel
from svimaged.images import codec
from svimaged.images.store import ImageStore

from .pictures import decode, encode


def assert_rgb_jpeg(data: bytes) -> Image.Image:
    assert data.startswith(b"\xff\xd8\xff")
    image = decode(data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    return image


RGB_JPEG = encode(Image.new("RGB", (32, 24), (200, 30, 30)), "JPEG")
PNG_RGB = encode(Image.new("RGB", (16, 16), (0, 128, 0)), "PNG")


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# --- ImageStore --------------------------------------------------------------------------


def test_store_writes_atomically_with_modes(tmp_path: Path, umask_077: None) -> None:
    store = ImageStore(tmp_path / ".images")
    stored = store.store(profile_rel("12345"), RGB_JPEG)
    assert stored.path == tmp_path / ".images" / "profiles" / "profile_avatar_12345.jpg"
    assert stored.path.read_bytes() == RGB_JPEG
    assert stored.size == len(RGB_JPEG)
    assert len(stored.sha256) == 64
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644
    for folder in (tmp_path / ".images", stored.path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert sorted(p.name for p in stored.path.parent.iterdir()) == [stored.path.name]


def test_store_custom_mode(tmp_path: Path, umask_077: None) -> None:
    store = ImageStore(tmp_path / ".images", dir_mode=0o750)
    stored = store.store(artwork_rel("42", "abc"), RGB_JPEG)
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o640
    assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / ".images" / "artwork").stat().st_mode) == 0o750


def test_store_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / ".images")
    rel = category_rel("just_chatting")
    old = store.store(rel, RGB_JPEG)

    def full_disk(src: object, dst: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    new_jpeg = encode(Image.new("RGB", (8, 8), (0, 0, 0)), "JPEG")
    with pytest.raises(SvimagedError, match="No space left"):
        store.store(rel, new_jpeg)
    assert old.path.read_bytes() == RGB_JPEG
    assert [p.name for p in old.path.parent.iterdir()] == ["just_chatting.jpg"]


def test_store_refuses_non_jpeg_bytes(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / ".images")
    with pytest.raises(InvalidImageError):
        store.store(profile_rel("1"), PNG_RGB)
    assert not (tmp_path / ".images").exists()


@pytest.mark.parametrize(
    "rel",
    ["../x.jpg", "/etc/passwd", "profiles/../../x.jpg", "", "profiles//a.jpg", "profiles/.x"],
)
def test_resolve_refuses_unsafe_names(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafeNameError):
        ImageStore(tmp_path / ".images").resolve(rel)


def test_resolve_refuses_symlinked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / ".images"
    root.mkdir()
    (root / "profiles").symlink_to(outside)
    store = ImageStore(root)
    with pytest.raises(UnsafeNameError, match="symlink"):
        store.store(profile_rel("7"), RGB_JPEG)
    with pytest.raises(UnsafeNameError):
        store.exists(profile_rel("7"))
    assert list(outside.iterdir()) == []


def test_resolve_refuses_symlinked_file(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    store = ImageStore(tmp_path / ".images")
    (tmp_path / ".images" / "profiles").mkdir(parents=True)
    (tmp_path / ".images" / "profiles" / "profile_avatar_9.jpg").symlink_to(victim)
    with pytest.raises(UnsafeNameError):
        store.store(profile_rel("9"), RGB_JPEG)
    with pytest.raises(UnsafeNameError):
        store.remove(profile_rel("9"))
    assert victim.read_text() == "keep me"


def test_exists_meta_remove(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / ".images")
    rel = profile_rel("5")
    assert not store.exists(rel)
    assert store.read_meta(rel) is None
    assert store.remove(rel) is False
    stored = store.store(rel, RGB_JPEG)
    assert store.exists(rel)
    assert store.read_meta(rel) == (len(RGB_JPEG), stored.path.stat().st_mtime_ns)
    assert store.remove(rel) is True
    assert not stored.path.exists()


def make_source(folder: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_import_hard_links_valid_jpeg(tmp_path: Path) -> None:
    source = make_source(tmp_path / "rec", "a-thumb.jpg", RGB_JPEG)
    stored = ImageStore(tmp_path / ".images").import_file(artwork_rel("1", "2"), source)
    assert os.path.samefile(stored.path, source)
    assert stored.path.read_bytes() == RGB_JPEG
    assert [p.name for p in stored.path.parent.iterdir()] == ["stream_2.jpg"]


def test_import_copies_when_source_not_readable_by_others(tmp_path: Path) -> None:
    source = make_source(tmp_path / "rec", "a-thumb.jpg", RGB_JPEG, mode=0o600)
    stored = ImageStore(tmp_path / ".images").import_file(artwork_rel("1", "2"), source)
    assert not os.path.samefile(stored.path, source)
    assert stored.path.read_bytes() == RGB_JPEG
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644


def test_import_converts_png(tmp_path: Path) -> None:
    source = make_source(tmp_path / "rec", "a-thumb.png", PNG_RGB)
    stored = ImageStore(tmp_path / ".images").import_file(artwork_rel("1", "3"), source)
    assert not os.path.samefile(stored.path, source)
    assert_rgb_jpeg(stored.path.read_bytes())
    assert source.read_bytes() == PNG_RGB


def test_import_refuses_symlinked_source(tmp_path: Path) -> None:
    real = make_source(tmp_path / "elsewhere", "secret.jpg", RGB_JPEG)
    link = tmp_path / "rec" / "a-thumb.jpg"
    link.parent.mkdir()
    link.symlink_to(real)
    store = ImageStore(tmp_path / ".images")
    with pytest.raises(UnsafeNameError, match="symlink"):
        store.import_file(artwork_rel("1", "4"), link)
    assert not store.exists(artwork_rel("1", "4"))


def test_import_refuses_html_named_jpg(tmp_path: Path) -> None:
    source = make_source(tmp_path / "rec", "a-thumb.jpg", b"<html><body>nope</body></html>")
    store = ImageStore(tmp_path / ".images")
    with pytest.raises(InvalidImageError, match="HTML"):
        store.import_file(artwork_rel("1", "5"), source)
    assert not store.exists(artwork_rel("1", "5"))


def test_import_refuses_oversized_and_missing(tmp_path: Path) -> None:
    source = make_source(tmp_path / "rec", "a-thumb.jpg", RGB_JPEG)
    store = ImageStore(tmp_path / ".images")
    with pytest.raises(InvalidImageError, match="over 100 bytes"):
        store.import_file(artwork_rel("1", "6"), source, max_bytes=100)
    with pytest.raises(InvalidImageError, match="cannot open"):
        store.import_file(artwork_rel("1", "6"), tmp_path / "rec" / "missing.jpg")
    with pytest.raises(InvalidImageError, match="not a regular file"):
        store.import_file(artwork_rel("1", "6"), tmp_path / "rec")


def test_import_replaces_existing_file(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / ".images")
    rel = artwork_rel("1", "7")
    store.store(rel, encode(Image.new("RGB", (4, 4)), "JPEG"))
    source = make_source(tmp_path / "rec", "a-thumb.jpg", RGB_JPEG)
    stored = store.import_file(rel, source)
    assert stored.path.read_bytes() == RGB_JPEG
    assert [p.name for p in stored.path.parent.iterdir()] == ["stream_7.jpg"]


def test_module_constants() -> None:
    assert codec.MAX_PIXELS == 40_000_000


# -- remove_temp: only svimaged's own leftovers ------------------------------------------


def test_remove_temp_removes_a_leftover_temporary_in_the_root_and_in_a_folder(
    tmp_path: Path,
) -> None:
    store = ImageStore(tmp_path / ".images")
    folder = tmp_path / ".images" / "profiles"
    folder.mkdir(parents=True)
    leftovers = [
        tmp_path / ".images" / ".x.jpg.svimaged-tmp-0123456789ab",
        folder / ".profile_avatar_1.jpg.svimaged-tmp-ba9876543210",
    ]
    for path in leftovers:
        path.write_bytes(b"\xff\xd8 half")
    assert store.remove_temp(".x.jpg.svimaged-tmp-0123456789ab") is True
    assert store.remove_temp("profiles/.profile_avatar_1.jpg.svimaged-tmp-ba9876543210") is True
    assert not any(path.exists() for path in leftovers)
    assert store.remove_temp("profiles/.gone.jpg.svimaged-tmp-000000000000") is False


@pytest.mark.parametrize(
    "rel",
    [
        "profiles/profile_avatar_1.jpg",  # a cached file, not a temporary
        "profiles/.hidden.jpg",  # hidden, but not svimaged's temporary name
        "profiles/x.jpg.svimaged-tmp-0123456789ab",  # almost: not hidden
        "../.x.jpg.svimaged-tmp-0123456789ab",  # outside the cache
    ],
)
def test_remove_temp_refuses_anything_not_named_like_its_temporaries(
    tmp_path: Path, rel: str
) -> None:
    store = ImageStore(tmp_path / ".images")
    (tmp_path / ".images" / "profiles").mkdir(parents=True)
    (tmp_path / ".images" / "profiles" / "profile_avatar_1.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / ".x.jpg.svimaged-tmp-0123456789ab").write_bytes(b"outside")
    with pytest.raises(UnsafeNameError):
        store.remove_temp(rel)
    assert (tmp_path / ".images" / "profiles" / "profile_avatar_1.jpg").exists()
    assert (tmp_path / ".x.jpg.svimaged-tmp-0123456789ab").exists()


def test_remove_temp_leaves_a_link_or_a_folder_with_a_temporary_name(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / ".images")
    root = tmp_path / ".images"
    root.mkdir()
    outside = tmp_path / "precious.jpg"
    outside.write_bytes(b"mine")
    (root / ".a.jpg.svimaged-tmp-0123456789ab").symlink_to(outside)
    (root / ".b.jpg.svimaged-tmp-0123456789ab").mkdir()
    for name in (".a.jpg.svimaged-tmp-0123456789ab", ".b.jpg.svimaged-tmp-0123456789ab"):
        with pytest.raises(UnsafeNameError, match="not a regular file"):
            store.remove_temp(name)
    assert outside.read_bytes() == b"mine"
    assert (root / ".a.jpg.svimaged-tmp-0123456789ab").is_symlink()
    assert (root / ".b.jpg.svimaged-tmp-0123456789ab").is_dir()


def test_remove_temp_that_cannot_unlink_is_a_svimaged_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImageStore(tmp_path / ".images")
    (tmp_path / ".images").mkdir()
    leftover = tmp_path / ".images" / ".x.jpg.svimaged-tmp-0123456789ab"
    leftover.write_bytes(b"half")

    def refuse(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)  # whichever way the store unlinks
    with pytest.raises(SvimagedError, match=r"cannot remove \.x\.jpg\.svimaged-tmp-0123456789ab"):
        store.remove_temp(".x.jpg.svimaged-tmp-0123456789ab")
    monkeypatch.undo()
    assert leftover.exists()
