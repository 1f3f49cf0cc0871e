"""Plex Media Server: a partial scan of the show folder.

One batch (one show folder) becomes `GET /library/sections` (the libraries with their
folders, `Location` paths) and `GET /library/sections/{key}/refresh?path=<show folder>` for
each library that holds the folder: Plex scans only that folder (Plex's URL commands;
partial scans exist since Plex Media Server 1.20). A folder no library holds is a set-up
error (check `path_map`), not retried.

The token goes in the `X-Plex-Token` header (Plex also takes it as a query parameter, where
it would end up in URLs and logs); answers are asked for as JSON.
"""

from __future__ import annotations

import re

from svimaged import __version__
from svimaged.core.errors import NotifyError
from svimaged.notify.base import Library, Probe, as_object, objects, text
from svimaged.notify.changes import FolderBatch, is_within
from svimaged.notify.http import HttpClient

_KEY = re.compile(r"[0-9A-Za-z]{1,32}")


class PlexClient:
    """One Plex Media Server."""

    def __init__(self, http: HttpClient, url: str, *, token: str) -> None:
        self._http = http
        self._url = url
        self._headers = {
            "X-Plex-Product": "svimaged",
            "X-Plex-Version": __version__,
            "X-Plex-Client-Identifier": "svimaged",
        }
        if token:
            self._headers["X-Plex-Token"] = token

    def _get(self, path: str, params: dict[str, str] | None = None) -> object:
        return self._http.call("GET", self._url + path, headers=self._headers, params=params)

    def sections(self) -> list[tuple[str, Library]]:
        """Every library with its key and folders."""
        container = as_object(as_object(self._get("/library/sections")).get("MediaContainer"))
        found: list[tuple[str, Library]] = []
        for section in objects(container.get("Directory")):
            key = text(section, "key")
            if key is None or not _KEY.fullmatch(key):
                continue
            paths = tuple(
                path for loc in objects(section.get("Location")) if (path := text(loc, "path"))
            )
            found.append((key, Library(text(section, "title") or key, paths)))
        return found

    def notify(self, batch: FolderBatch) -> None:
        """Scan the show folder in every library that holds it."""
        keys = [
            key
            for key, library in self.sections()
            if any(is_within(batch.show, path) for path in library.paths)
        ]
        if not keys:
            raise NotifyError(
                f"no Plex library holds {batch.show} (check path_map)", transient=False
            )
        for key in keys:
            self._get(f"/library/sections/{key}/refresh", {"path": batch.show})

    def probe(self) -> Probe:
        """Plex's version (`/identity`) and its libraries."""
        identity = as_object(as_object(self._get("/identity")).get("MediaContainer"))
        version = text(identity, "version")
        if version is None:
            raise NotifyError(
                f"{self._url}/identity: no version in the answer (is this Plex?)",
                transient=False,
            )
        return Probe(f"Plex Media Server {version}", tuple(lib for _k, lib in self.sections()))
