"""The paths the protocol tests share: a recordings root svimaged sees, the folder the
servers see it as, and two episode NFOs of one show."""

from __future__ import annotations

REC = "/srv/rec"
MAP = [(REC, "/data/tv")]
SHOW = "/data/tv/Alice Plays"  # Alice's show folder as the servers see it
SEASON = f"{SHOW}/Season 2026-11"
NFO_1 = f"{REC}/Alice Plays/Season 2026-11/alice - S202611E01 - a.nfo"
NFO_2 = f"{REC}/Alice Plays/Season 2026-11/alice - S202611E02 - b.nfo"
