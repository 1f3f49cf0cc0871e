"""The throw-away Kodi profile that makes a fresh Kodi 20 usable unattended.

- `guisettings.xml`: the web server (JSON-RPC and `/image/`) on a given port with
  authentication and a per-run password: Kodi 20 has no bind-address setting and its web
  server listens on every interface, so it is never left open. The JSON-RPC TCP and event
  servers, zeroconf, UPnP, AirPlay, WS-Discovery, RSS and add-on updates are off. No frame
  extraction (`myvideos.extractthumb`, `extractflags`): every picture Kodi shows comes from
  the library's NFOs and files, never from decoding a video.
- `advancedsettings.xml`: no splash, compact JSON.
- `sources.xml`: the recordings folder as the one video source.
- `~/.asoundrc`: a null ALSA device, so Kodi does not spend seconds probing for sound cards.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape


def guisettings(port: int, username: str, password: str) -> str:
    """The settings a fresh profile needs to be driven unattended (see module docstring)."""
    values: dict[str, str] = {
        "services.webserver": "true",
        "services.webserverport": str(port),
        "services.webserverauthentication": "true",
        "services.webserverusername": username,
        "services.webserverpassword": password,
        "services.webserverssl": "false",
        "services.esenabled": "false",
        "services.esallinterfaces": "false",
        "services.zeroconf": "false",
        "services.upnp": "false",
        "services.airplay": "false",
        "services.wsdiscovery": "false",
        "general.addonupdates": "2",
        "general.addonnotifications": "false",
        "lookandfeel.enablerssfeeds": "false",
        "myvideos.extractflags": "false",
        "myvideos.extractthumb": "false",
        "myvideos.extractchapterthumbs": "false",
        "videolibrary.backgroundupdate": "true",
        "videolibrary.updateonstartup": "false",
    }
    lines = [f'  <setting id="{key}">{escape(value)}</setting>' for key, value in values.items()]
    return '<settings version="2">\n' + "\n".join(lines) + "\n</settings>\n"


ADVANCEDSETTINGS = """<advancedsettings version="1.0">
  <splash>false</splash>
  <jsonrpc><compactoutput>true</compactoutput></jsonrpc>
</advancedsettings>
"""

#: A null ALSA default device: Kodi's sound-card probing finds one at once.
ASOUNDRC = "pcm.!default { type null }\n"


def sources_xml(name: str, folder: Path) -> str:
    """sources.xml with `folder` as the one video source."""
    path = escape(str(folder).rstrip("/") + "/")
    return (
        '<sources>\n  <video>\n    <default pathversion="1"></default>\n'
        f"    <source>\n      <name>{escape(name)}</name>\n"
        f'      <path pathversion="1">{path}</path>\n'
        "      <allowsharing>true</allowsharing>\n    </source>\n"
        "  </video>\n</sources>\n"
    )


def write_profile(home: Path, *, port: int, username: str, password: str, source: Path) -> Path:
    """Write the throw-away profile below `home` (used as $HOME); returns the userdata folder."""
    userdata = home / ".kodi" / "userdata"
    userdata.mkdir(parents=True, exist_ok=True)
    (userdata / "guisettings.xml").write_text(guisettings(port, username, password), "utf-8")
    (userdata / "advancedsettings.xml").write_text(ADVANCEDSETTINGS, "utf-8")
    (userdata / "sources.xml").write_text(sources_xml("Twitch recordings", source), "utf-8")
    (home / ".asoundrc").write_text(ASOUNDRC, "utf-8")
    return userdata
