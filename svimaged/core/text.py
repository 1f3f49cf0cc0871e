"""Text that came from outside (JSON from Twitch or another program): the one rule for lone
surrogates.

JSON can carry `\\ud800` escapes that decode to lone UTF-16 surrogates: valid JSON, but text
that no UTF-8 writer accepts (SQLite, lxml, a log file). Such text is kept with each lone
surrogate replaced by U+FFFD, so one odd character never costs a field, a row or a pass.
"""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: str) -> str:
    """`value` with every lone surrogate replaced by U+FFFD (a JSON decoder has already
    joined the valid pairs, so every surrogate left in a str is alone)."""
    return _LONE_SURROGATE.sub("\ufffd", value)
