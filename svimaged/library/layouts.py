"""Which archiver laid out a recording, from the names in its folder alone (no file is opened;
docs/layouts.md has each archiver's tree with its source).

Per video file, in this order:

1. `<stem>.info.json` next to it: StreamVault or yt-dlp (`Layout.INFO_JSON`).
2. `<file>-video.<ext>` with `<file>-info.json`: ganymede (`Layout.GANYMEDE`); its own
   `<file>-thumbnail.jpg` is the recording's picture.
3. `<stem>.json` next to it: LiveStreamDVR's `<basename>.json`, or twitch-archiver's
   `vod.json` (`Layout.JSON`; the content decides which); twitch-archiver's `thumbnail.jpg`
   is the picture of its `vod.mp4`.
4. Anything else: the names say what they can (`Layout.NAMES`): streamlink recorders,
   StreamVault without sidecars, hand-made trees.

Video files that are not episodes are dropped: ganymede's rendered chat (`<file>-chat.mp4`),
LiveStreamDVR's side videos (`<basename>_vod.mp4`, `_chat.mp4`, `_chat_mask.mp4`,
`_burned.mp4`), twitch-archiver's `merged.ts` and a `.ts` capture next to the `.mp4` it is
being remuxed into. Folders that hold no episodes are not descended into: twitch-archiver's
`parts/` and ganymede's HLS folders (`<file>-video_hls/`, segments of an archive svimaged does
not read).
"""

from __future__ import annotations

from collections.abc import Container
from typing import NamedTuple

from svimaged.core.model import Layout

GANYMEDE_VIDEO = "-video"
GANYMEDE_INFO = "-info.json"
GANYMEDE_THUMBNAIL = "-thumbnail.jpg"
GANYMEDE_CHAT = "-chat"
GANYMEDE_HLS = "-video_hls"
#: The avatar ganymede keeps in each channel folder (Twitch's bytes, whatever the suffix).
GANYMEDE_AVATAR = "profile.png"
LIVESTREAMDVR_SIDE_VIDEOS = ("_vod", "_chat", "_chat_mask", "_burned")
TWITCH_ARCHIVER_STEM = "vod"
TWITCH_ARCHIVER_THUMBNAIL = "thumbnail.jpg"
TWITCH_ARCHIVER_PARTS = "parts"
TWITCH_ARCHIVER_MERGING = "merged.ts"


class Recognized(NamedTuple):
    """How one video file is described: its layout, its sidecar's file name and the
    archiver's own picture's file name (both in the same folder, None when there is none).
    A named tuple: one is built per video file of every scan."""

    layout: Layout
    sidecar: str | None = None
    picture: str | None = None


def recognize(name: str, files: Container[str]) -> Recognized | None:
    """The layout of the video file `name`, given the names of the regular files in its
    folder; None when the file is not an episode (see the module docstring). Pure."""
    stem, suffix = split_suffix(name)
    return recognize_split(name, stem, suffix, files)


def recognize_split(name: str, stem: str, suffix: str, files: Container[str]) -> Recognized | None:
    """`recognize` for a name already split into `stem` and `suffix` (the scan has split
    it to see whether it is a video). Pure."""
    info_json = stem + ".info.json"
    if info_json in files:
        return Recognized(Layout.INFO_JSON, info_json)
    if stem.endswith(GANYMEDE_VIDEO):
        prefix = stem[: -len(GANYMEDE_VIDEO)]
        if prefix + GANYMEDE_INFO in files:
            picture = prefix + GANYMEDE_THUMBNAIL
            return Recognized(
                Layout.GANYMEDE, prefix + GANYMEDE_INFO, picture if picture in files else None
            )
    if _side_video(stem, files):
        return None
    if suffix.lower() == ".ts" and (name == TWITCH_ARCHIVER_MERGING or stem + ".mp4" in files):
        return None
    if stem + ".json" in files:
        own = stem == TWITCH_ARCHIVER_STEM and TWITCH_ARCHIVER_THUMBNAIL in files
        return Recognized(Layout.JSON, stem + ".json", TWITCH_ARCHIVER_THUMBNAIL if own else None)
    return Recognized(Layout.NAMES)


def split_suffix(name: str) -> tuple[str, str]:
    """`os.path.splitext` of a name without a folder part, in half of its time (it runs for
    every video file of every scan). Pure."""
    dot = name.rfind(".")
    if dot > 0 and (name[0] != "." or name[:dot].strip(".")):  # a dot-file has no suffix
        return name[:dot], name[dot:]
    return name, ""


def skip_folder(name: str, parent_files: Container[str]) -> bool:
    """True for a sub-folder that holds no episodes: twitch-archiver's `parts/` (next to its
    `vod.json`) and ganymede's HLS folders. Pure."""
    if name == TWITCH_ARCHIVER_PARTS and TWITCH_ARCHIVER_STEM + ".json" in parent_files:
        return True
    return name.endswith(GANYMEDE_HLS)


def _side_video(stem: str, files: Container[str]) -> bool:
    """ganymede's rendered chat next to its archive, or a LiveStreamDVR side video next to
    its capture's JSON."""
    if stem.endswith(GANYMEDE_CHAT):
        prefix = stem[: -len(GANYMEDE_CHAT)]
        if prefix + GANYMEDE_INFO in files:
            return True
    for side in LIVESTREAMDVR_SIDE_VIDEOS:
        if stem.endswith(side) and stem[: -len(side)] + ".json" in files:
            return True
    return False
