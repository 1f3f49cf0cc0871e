"""Twitch's image URL templates, filled the same way wherever they come from (a Helix answer
or an archiver's sidecar). Pure."""

from __future__ import annotations

import re

#: The sizes svimaged asks for: box art 285x380, video thumbnails 1280x720.
BOX_ART_SIZE = (285, 380)
THUMBNAIL_SIZE = (1280, 720)

_TEMPLATE_WIDTH = re.compile(r"%?\{width\}")
_TEMPLATE_HEIGHT = re.compile(r"%?\{height\}")


def fill_template(url: str, width: int, height: int) -> str:
    """Fill Twitch's size markers: `{width}x{height}` (box art) and `%{width}x%{height}`
    (video thumbnails). A URL without markers comes back unchanged."""
    return _TEMPLATE_HEIGHT.sub(str(height), _TEMPLATE_WIDTH.sub(str(width), url))
