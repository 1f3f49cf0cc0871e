"""The one place for names: slugs, safe names, ids in file names, cache paths.

Pure functions only. Every name that reaches the file system from untrusted input passes
through `safe_component` or `safe_id` first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from svimaged.core.errors import UnsafeNameError

SLUG_MAX_BYTES = 100
_NON_SLUG = re.compile(r"[^a-z0-9]+")
_SAFE_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")

PROFILES_DIR = "profiles"
CATEGORIES_DIR = "categories"
ARTWORK_DIR = "artwork"
BACKDROPS_DIR = "backdrops"

#: Names the daemon itself gives files under `.images` (contract section 3.1). Cleanup deletes
#: nothing else (besides `TEMP_NAME`).
PROFILE_NAME = re.compile(r"profile_avatar_(?P<user_id>[0-9A-Za-z_-]{1,128})\.jpg")
CATEGORY_NAME = re.compile(r"(?P<slug>[a-z0-9_]{1,130})\.jpg")
ARTWORK_NAME = re.compile(r"stream_(?P<stream_id>[0-9A-Za-z_-]{1,128})\.jpg")
BACKDROP_NAME = re.compile(r"offline_(?P<user_id>[0-9A-Za-z_-]{1,128})\.jpg")
#: Temporary files written by `atomic.atomic_write`.
TEMP_NAME = re.compile(r"\.(?P<target>.+)\.svimaged-tmp-[0-9a-z_]{1,32}")


def is_text_name(name: str) -> bool:
    """True when a name from the file system is valid UTF-8 text. Names with other bytes
    come from `os.scandir` with lone surrogates (`surrogateescape`); no database, log or NFO
    can hold them as text, so they are skipped and counted, never half-handled."""
    if name.isascii():  # most names, and surrogates are not ASCII
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """A file-system name for a log line: bytes that are not UTF-8 as `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def slugify(name: str) -> str:
    """Fold `name` to the cache slug: NFKD to ASCII, lowercase, runs of non-`[a-z0-9]` to one
    `_`, `_` stripped at both ends, cut to 100 bytes. May return "" (see `category_slug`)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NON_SLUG.sub("_", folded.lower()).strip("_")
    return slug[:SLUG_MAX_BYTES].strip("_")


def category_slug(name: str, game_id: str | None, taken_by: str | None = None) -> str:
    """The file stem for a category image.

    `taken_by` is the name of the category that already owns `slugify(name)`, if any. An
    empty slug becomes `category_<game_id>`; a slug owned by a different category gets
    `_<game_id>` appended (or 8 hex digits of the name's sha256 when the id is unknown or
    not numeric), so the result always fits `category_rel`.
    """
    slug = slugify(name)
    suffix = game_id if game_id and game_id.isascii() and game_id.isdigit() else None
    suffix = (suffix or _short_hash(name, 8))[:24]
    if not slug:
        return f"category_{suffix}"
    if taken_by is not None and taken_by != name:
        return f"{slug[:SLUG_MAX_BYTES]}_{suffix}"
    return slug


def safe_component(name: str) -> str:
    """Return `name` if it is safe as one path component, else raise `UnsafeNameError`.

    Refused: empty, `/` or `\\`, NUL or other control characters, a leading dot (which
    covers `.` and `..`), and names over 255 bytes.
    """
    if not name:
        raise UnsafeNameError("empty name")
    if "/" in name or "\\" in name:
        raise UnsafeNameError(f"name contains a path separator: {name!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafeNameError(f"name contains a control character: {name!r}")
    if name.startswith("."):
        raise UnsafeNameError(f"name starts with a dot: {name!r}")
    try:
        encoded = name.encode("utf-8", "surrogateescape")  # os.listdir's undecodable bytes
    except UnicodeEncodeError as exc:
        raise UnsafeNameError(f"name is not valid Unicode text: {name[:40]!r}") from exc
    if len(encoded) > 255:
        raise UnsafeNameError(f"name longer than 255 bytes: {name[:40]!r}...")
    return name


def safe_id(value: str) -> str:
    """Return `value` if it is a non-empty `[0-9A-Za-z_-]` id of at most 128 characters."""
    if not _SAFE_ID.fullmatch(value):
        raise UnsafeNameError(f"not a safe id: {value[:60]!r}")
    return value


def is_safe_id(value: str | None) -> bool:
    """True when `value` could be used by `safe_id`."""
    return value is not None and _SAFE_ID.fullmatch(value) is not None


def stream_file_id(stream_id: str | None, local_id: str | None, rel_path: str) -> str:
    """The `<stream_id>` of an artwork file name (contract section 3.1): the Twitch stream id, else
    StreamVault's id, else the first 16 hex digits of sha256(path relative to recordings).
    Candidates with characters outside `[0-9A-Za-z_-]` are skipped."""
    for candidate in (stream_id, local_id):
        if is_safe_id(candidate):
            assert candidate is not None
            return candidate
    return _short_hash(rel_path, 16)


def profile_rel(user_id: str) -> str:
    """Cache path of a profile image, relative to the images folder."""
    return f"{PROFILES_DIR}/profile_avatar_{safe_id(user_id)}.jpg"


def category_rel(slug: str) -> str:
    """Cache path of a category image, relative to the images folder."""
    if not CATEGORY_NAME.fullmatch(f"{slug}.jpg"):
        raise UnsafeNameError(f"not a category slug: {slug[:60]!r}")
    return f"{CATEGORIES_DIR}/{slug}.jpg"


def backdrop_rel(user_id: str) -> str:
    """Cache path of a channel's offline image (the show's backdrop), relative to the images
    folder."""
    return f"{BACKDROPS_DIR}/offline_{safe_id(user_id)}.jpg"


def artwork_rel(user_id: str, stream_id: str) -> str:
    """Cache path of a stream's artwork, relative to the images folder."""
    return f"{ARTWORK_DIR}/{safe_id(user_id)}/stream_{safe_id(stream_id)}.jpg"


def _short_hash(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]
