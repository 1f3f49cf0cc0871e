"""Jellyfin and Emby: the REST API they share (Emby's, which Jellyfin forked).

One batch (one show folder) becomes:

- `POST /Library/Media/Updated` with `{"Updates": [{"Path": <show folder>, "UpdateType":
  "Created" | "Modified"}]}`: the server refreshes the nearest item it has for that path,
  which finds new episodes (Jellyfin: `LibraryController.PostUpdatedMedia` hands each path
  to `LibraryMonitor.ReportFileSystemChanged`, which waits `LibraryMonitorDelay` seconds,
  60 by default, for more changes);
- for rewritten files of items the server has: the items found by path through `GET /Items`
  (the series with `includeItemTypes=Series`, then its seasons and episodes with
  `parentId`), and `POST /Items/{id}/Refresh` with `metadataRefreshMode=FullRefresh` and
  `imageRefreshMode=FullRefresh` (`replaceAllMetadata` and `replaceAllImages` false): a
  full refresh runs the NFO reader whatever the file's time, where the default refresh
  skips an NFO that is not more than a minute newer than the item's last save
  (`BaseNfoProvider.HasChanged`). Refreshing a series refreshes everything below it.

The API key goes in a header: Jellyfin's `Authorization: MediaBrowser Token="<key>"`
(its `X-Emby-Token` is legacy and may be switched off), Emby's `X-Emby-Token: <key>`.
"""

from __future__ import annotations

import re
from typing import Literal

from svimaged.core.errors import NotifyError
from svimaged.notify.base import Library, Probe, as_object, objects, text
from svimaged.notify.changes import FolderBatch
from svimaged.notify.http import HttpClient
from svimaged.notify.targets import Item, ItemKind, RefreshPlan, needs_children, plan_refresh

Flavor = Literal["jellyfin", "emby"]
#: The query of an item refresh: re-read local metadata and images whatever their times,
#: keep what the user set.
REFRESH_PARAMS = {
    "metadataRefreshMode": "FullRefresh",
    "imageRefreshMode": "FullRefresh",
    "replaceAllMetadata": "false",
    "replaceAllImages": "false",
}
_KINDS = {"Series": ItemKind.SHOW, "Season": ItemKind.SEASON, "Episode": ItemKind.EPISODE}
_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class MediaBrowserClient:
    """One Jellyfin or Emby server."""

    def __init__(self, http: HttpClient, url: str, *, api_key: str, flavor: Flavor) -> None:
        self._http = http
        self._url = url
        self._flavor = flavor
        if flavor == "jellyfin":
            self._headers = {"Authorization": f'MediaBrowser Token="{api_key}"'}
        else:
            self._headers = {"X-Emby-Token": api_key}

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
    ) -> object:
        return self._http.call(
            method, self._url + path, headers=self._headers, params=params, body=body
        )

    def notify(self, batch: FolderBatch) -> None:
        """Report the show folder as updated, then refresh the items whose files were
        rewritten."""
        update = {"Path": batch.show, "UpdateType": batch.update.value}
        self._call("POST", "/Library/Media/Updated", body={"Updates": [update]})
        if not batch.modified and not batch.overflow:
            return
        plan = self._plan(batch)
        shows = [item for item in plan.refresh if item.kind is ItemKind.SHOW]
        for item in shows or plan.refresh:  # a series refresh covers its seasons and episodes
            self._call("POST", f"/Items/{item.id}/Refresh", params=REFRESH_PARAMS)

    def _plan(self, batch: FolderBatch) -> RefreshPlan:
        series = self._items({"recursive": "true", "includeItemTypes": "Series", "fields": "Path"})
        show = next((i for i in series if i.path.rstrip("/") == batch.show), None)
        children: list[Item] = []
        if show is not None and needs_children(batch):
            children = self._items(
                {
                    "parentId": show.id,
                    "recursive": "true",
                    "includeItemTypes": "Season,Episode",
                    "fields": "Path",
                }
            )
        return plan_refresh(batch, show, children)

    def _items(self, params: dict[str, str]) -> list[Item]:
        """`GET /Items`: the items with an id, a path and a kind svimaged knows."""
        found: list[Item] = []
        for data in objects(as_object(self._call("GET", "/Items", params=params)).get("Items")):
            ident, path = text(data, "Id"), text(data, "Path")
            kind = _KINDS.get(text(data, "Type") or "")
            if ident is not None and _ID.fullmatch(ident) and path is not None and kind:
                found.append(Item(ident, path, kind))
        return found

    def probe(self) -> Probe:
        """The server's product, version and name, and its libraries' folders."""
        info = as_object(self._call("GET", "/System/Info"))
        version = text(info, "Version")
        if version is None:
            raise NotifyError(
                f"{self._url}/System/Info: no Version in the answer (is this {self._flavor}?)",
                transient=False,
            )
        product = text(info, "ProductName") or self._flavor.capitalize()
        shown = f"{product} {version}"
        if (server := text(info, "ServerName")) is not None:
            shown += f" ({server})"
        folders = self._call("GET", "/Library/VirtualFolders")
        libraries = tuple(
            Library(
                text(folder, "Name") or "?",
                tuple(p for p in as_list(folder.get("Locations")) if isinstance(p, str)),
            )
            for folder in objects(folders)
        )
        return Probe(shown, libraries)


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
