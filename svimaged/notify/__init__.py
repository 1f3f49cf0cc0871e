"""Telling the media servers what svimaged wrote, so new artwork shows in seconds instead of
at their next library scan (contract section 9, `notify`).

- `changes`: what a pass wrote, grouped by show folder and mapped to the server's paths;
- `dispatch`: the batching window, the bounded queue and the backoff of one server;
- `targets`: which of a server's items a rewritten file belongs to;
- `kodi`, `mediabrowser` (Jellyfin, Emby), `plex`: one protocol each, over `http`;
- `servers`: the configured servers as clients; `worker`: the threads that send;
- `probe`: `svimaged notify test`.

Pure modules (`changes`, `dispatch`, `targets`) decide; `http` and the threads do the I/O.
Nothing here writes a file, and nothing here can fail or hold up a pass.
"""

from svimaged.notify.probe import CheckResult, check_servers, format_result
from svimaged.notify.worker import NotifyWorker

__all__ = ["CheckResult", "NotifyWorker", "check_servers", "format_result"]
