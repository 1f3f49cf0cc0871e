"""The configured media servers as clients: each `notify` entry with its protocol and the
path map it sees the recordings through."""

from __future__ import annotations

from dataclasses import dataclass

from svimaged.config import Config, NotifyServer, PathMapEntry
from svimaged.notify.base import ServerClient
from svimaged.notify.http import HttpClient
from svimaged.notify.kodi import KodiClient
from svimaged.notify.mediabrowser import MediaBrowserClient
from svimaged.notify.plex import PlexClient


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One configured server: its name (stats, logs), kind, URL, the paths it sees, its
    client and the HTTP client under it (each server has its own: no two threads share a
    session)."""

    name: str
    kind: str
    url: str
    path_map: tuple[PathMapEntry, ...]
    client: ServerClient
    http: HttpClient

    def close(self) -> None:
        """Release its connections."""
        self.http.close()


def client_for(server: NotifyServer, http: HttpClient) -> ServerClient:
    """The protocol client for one `notify` entry."""
    if server.type == "kodi":
        return KodiClient(http, server.url, username=server.username, password=server.secret)
    if server.type == "plex":
        return PlexClient(http, server.url, token=server.secret)
    return MediaBrowserClient(http, server.url, api_key=server.secret, flavor=server.type)


def endpoints(config: Config) -> list[Endpoint]:
    """Every `notify` entry of `config`, in order, each with its own HTTP client."""
    found: list[Endpoint] = []
    for server in config.notify:
        http = HttpClient()
        found.append(
            Endpoint(
                name=server.name,
                kind=server.type,
                url=server.url,
                path_map=config.notify_path_map(server),
                client=client_for(server, http),
                http=http,
            )
        )
    return found
