"""The one safe XML parser for NFO files.

Parsing never resolves entities, never loads a DTD and never touches the network. A document
that declares entities in an internal DTD subset is refused, so nothing can expand later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from lxml import etree

from svimaged.core.errors import NfoParseError

UTF8_BOM = b"\xef\xbb\xbf"
MAX_NFO_BYTES = 4 * 1024 * 1024
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
        strip_cdata=False,
        recover=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse NFO bytes (UTF-8, with or without BOM) into the root element.

    Raises `NfoParseError` when the bytes are too large, declare entities, or are not
    well-formed XML. The caller names the file in its log line.
    """
    if len(data) > MAX_NFO_BYTES:
        raise NfoParseError(f"NFO larger than {MAX_NFO_BYTES} bytes")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if _ENTITY_DECL.search(data):
        raise NfoParseError("NFO declares entities; refusing to parse it")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NfoParseError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise NfoParseError("empty NFO")
    # The byte check above cannot see declarations in UTF-16/32 documents; the parsed
    # document can. References to entities nobody declared (an external DTD) would make
    # our standalone output invalid: refuse both, the file stays as it is.
    dtd = root.getroottree().docinfo.internalDTD
    entities: Iterable[object] = () if dtd is None else cast(Any, dtd).iterentities()
    if any(True for _ in entities):
        raise NfoParseError("NFO declares entities; refusing to parse it")
    if any(True for _ in root.iter(etree.Entity)):
        raise NfoParseError("NFO uses entities it does not declare; refusing to parse it")
    return root
