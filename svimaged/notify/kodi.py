"""Kodi: JSON-RPC 2.0 over HTTP (`POST <url>/jsonrpc`, HTTP basic auth), as Kodi 20 serves
it with "Allow remote control via HTTP" on.

One batch (one show folder) becomes:

- for rewritten files of items Kodi has: the show found by `VideoLibrary.GetTVShows`
  filtered on its path, its episodes by `VideoLibrary.GetEpisodes`, then
  `VideoLibrary.RefreshTVShow` / `VideoLibrary.RefreshEpisode` with `ignorenfo: false`, so
  Kodi reads the NFOs again (a scan skips what it has);
- for new files (and rewritten ones Kodi does not have yet): `VideoLibrary.Scan` with
  `directory` set to the show folder, which adds its new episodes (and a new show) without
  scanning the whole library.

Paths are as Kodi sees them; Kodi keeps folders with a trailing `/`.
"""

from __future__ import annotations

import base64

from svimaged.core.errors import NotifyError
from svimaged.notify.base import Library, Probe, as_object, objects, text
from svimaged.notify.changes import FolderBatch
from svimaged.notify.http import HttpClient
from svimaged.notify.targets import Item, ItemKind, RefreshPlan, needs_children, plan_refresh

#: Kodi's web server user when only a password is configured.
DEFAULT_USERNAME = "kodi"


class KodiClient:
    """One Kodi's JSON-RPC endpoint."""

    def __init__(self, http: HttpClient, url: str, *, username: str | None, password: str) -> None:
        self._http = http
        self._endpoint = f"{url}/jsonrpc"
        self._headers: dict[str, str] = {}
        if username is not None or password:
            pair = f"{username or DEFAULT_USERNAME}:{password}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")

    def rpc(self, method: str, params: dict[str, object] | None = None) -> object:
        """One JSON-RPC call; its `result`. A JSON-RPC error is a permanent `NotifyError`."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        answer = as_object(
            self._http.call("POST", self._endpoint, headers=self._headers, body=body)
        )
        if "error" in answer:
            error = as_object(answer["error"])
            message = text(error, "message") or "error"
            raise NotifyError(f"Kodi {method}: {message}", transient=False)
        if "result" not in answer:
            raise NotifyError(f"Kodi {method}: no result in the answer", transient=False)
        return answer["result"]

    def notify(self, batch: FolderBatch) -> None:
        """Refresh what Kodi has of the rewritten files, then scan the show folder when
        anything is new to Kodi."""
        plan = self._plan(batch) if batch.modified or batch.overflow else RefreshPlan()
        for item in plan.refresh:
            if item.kind is ItemKind.SHOW:
                self.rpc(
                    "VideoLibrary.RefreshTVShow",
                    {"tvshowid": int(item.id), "ignorenfo": False, "refreshepisodes": plan.deep},
                )
            else:
                self.rpc(
                    "VideoLibrary.RefreshEpisode", {"episodeid": int(item.id), "ignorenfo": False}
                )
        if batch.created or plan.unmatched or not plan.refresh:
            self.rpc("VideoLibrary.Scan", {"directory": batch.show + "/", "showdialogs": False})

    def _plan(self, batch: FolderBatch) -> RefreshPlan:
        show = self._show(batch.show)
        children: list[Item] = []
        if show is not None and needs_children(batch):
            result = self.rpc(
                "VideoLibrary.GetEpisodes", {"tvshowid": int(show.id), "properties": ["file"]}
            )
            for episode in objects(as_object(result).get("episodes")):
                found = _item(episode, "episodeid", ItemKind.EPISODE)
                if found is not None:
                    children.append(found)
        return plan_refresh(batch, show, children)

    def _show(self, folder: str) -> Item | None:
        """The TV show Kodi has at `folder`, or None."""
        result = self.rpc(
            "VideoLibrary.GetTVShows",
            {
                "filter": {"field": "path", "operator": "is", "value": folder + "/"},
                "properties": ["file"],
            },
        )
        for show in objects(as_object(result).get("tvshows")):
            found = _item(show, "tvshowid", ItemKind.SHOW)
            if found is not None and found.path.rstrip("/") == folder:
                return found
        return None

    def probe(self) -> Probe:
        """Kodi's name and version, its JSON-RPC version, and its video sources."""
        api = as_object(as_object(self.rpc("JSONRPC.Version")).get("version"))
        app = as_object(self.rpc("Application.GetProperties", {"properties": ["name", "version"]}))
        version = as_object(app.get("version"))
        name = text(app, "name") or "Kodi"
        shown = f"{name} {text(version, 'major') or '?'}.{text(version, 'minor') or '?'}"
        shown += f" (JSON-RPC {'.'.join(text(api, k) or '?' for k in ('major', 'minor', 'patch'))})"
        sources = as_object(self.rpc("Files.GetSources", {"media": "video"})).get("sources")
        libraries = tuple(
            Library(text(source, "label") or "?", (path,))
            for source in objects(sources)
            if (path := text(source, "file")) is not None
        )
        return Probe(shown, libraries)


def _item(data: object, key: str, kind: ItemKind) -> Item | None:
    """An item from a Kodi answer: a numeric id and a `file` path."""
    fields = as_object(data)
    ident, path = fields.get(key), text(fields, "file")
    if isinstance(ident, bool) or not isinstance(ident, int) or path is None:
        return None
    return Item(str(ident), path, kind)
