"""NFOs other programs are known to write broken, recognised by their bytes. Pure.

LiveStreamDVR writes `tvshow.nfo` with `<uniqueid type="twitch>ID</uniqueid>`: the attribute's
closing quote is missing, so no XML parser accepts the file (MrBrax/LiveStreamDVR
`server/src/Core/Providers/Twitch/TwitchChannel.ts`, since 2022), and it rewrites the file at
every start. svimaged never writes into such a file; it reads it with that one quote put back
(the user id in it saves a Twitch call) and says what the user can do.

LiveStreamDVR also writes each episode NFO before it knows the VOD, so its `<uniqueid
type="twitch">` and `<id>` say `undefined` (`TwitchVOD.ts`, finalize before the VOD match);
the merge gives that uniqueid the stream id.
"""

from __future__ import annotations

LIVESTREAMDVR_BROKEN = b'<uniqueid type="twitch>'
#: Values of a `<uniqueid>` that mean "no id" (LiveStreamDVR's JavaScript `undefined`).
UNDEFINED = frozenset({"undefined"})
LIVESTREAMDVR_FIXED = b'<uniqueid type="twitch">'
LIVESTREAMDVR_HINT = (
    "LiveStreamDVR writes this tvshow.nfo with an unclosed quote and rewrites it at every "
    "start; turn off its 'Create Kodi NFO' setting (create_kodi_nfo) and delete the file, "
    "and svimaged writes a correct one"
)


def repaired(data: bytes) -> bytes | None:
    """`data` with LiveStreamDVR's missing quote put back, for reading only; None when the
    bytes do not have that flaw."""
    if LIVESTREAMDVR_BROKEN not in data:
        return None
    return data.replace(LIVESTREAMDVR_BROKEN, LIVESTREAMDVR_FIXED)


def hint(data: bytes) -> str | None:
    """What the user can do about an NFO with a known flaw, None for any other file."""
    return LIVESTREAMDVR_HINT if LIVESTREAMDVR_BROKEN in data else None
