"""What gets written next to the recordings for the media servers. Each output turns a pure
view of a streamer folder into file values (`base`): the NFOs every NFO reader uses (`kodi`),
`season.nfo` for Jellyfin and Emby (`seasons`), and image files named as each server's local
image reader expects them (`images`). `apply` is the one place that writes them, skips
unchanged bytes and records them; `outputs_for` says which outputs a configuration needs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from svimaged.config import Config, MovieNfo
from svimaged.outputs.base import Output
from svimaged.outputs.images import ServerImages
from svimaged.outputs.kodi import KodiNfo
from svimaged.outputs.seasons import SeasonNfo

__all__ = ["OUTPUTS_VERSION", "Output", "outputs_for", "settings_signature"]

#: Raise when what the outputs write changes for the same settings (a new file, a new
#: element): every library is then looked at again once, and only changed files rewritten.
OUTPUTS_VERSION = 3


def outputs_for(
    media_servers: Sequence[str], sidecars: str, movie_nfo: MovieNfo = "merge"
) -> list[Output]:
    """The outputs for these media servers: the NFOs always, `season.nfo` for Jellyfin and
    Emby, and the image files they need unless `sidecars` is `none`."""
    outputs: list[Output] = [KodiNfo(movie_nfo)]
    if {"jellyfin", "emby"} & set(media_servers):
        outputs.append(SeasonNfo())
    images = ServerImages(media_servers)
    if sidecars != "none" and images.needs:
        outputs.append(images)
    return outputs


def settings_signature(config: Config) -> str:
    """A digest of every setting that changes what is written next to the recordings: where
    the files are, `nfo.*`, `media_servers`, and `OUTPUTS_VERSION`. When it differs from the
    one stored with the state, every folder is merged again (and files whose bytes would not
    change are not written)."""
    nfo = config.nfo
    settings = {
        "version": OUTPUTS_VERSION,
        "recordings": str(config.recordings),
        "images": config.images.dir,
        "write": nfo.write,
        "path_map": [list(entry) for entry in nfo.path_map],
        "sidecars": nfo.sidecars,
        "season_poster": nfo.season_poster,
        "movie_nfo": nfo.movie_nfo,
        "media_servers": sorted(config.media_servers),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
