"""Pure NFO rendering: what we know in, XML bytes out. No file I/O.

This module owns the elements the daemon writes (contract section 3.2), the small tree edits that
place them without reformatting anything around them, and `serialize`, the one output step.
`merge` builds on the same pieces, so merging into a freshly rendered file changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from svimaged.nfo.model import EpisodeInfo, SeasonInfo, ShowInfo

TVSHOW_ROOT = "tvshow"
EPISODE_ROOT = "episodedetails"
SEASON_ROOT = "season"
STUDIO = "Twitch"
UNIQUEID_TYPE = "twitch"
INDENT = "  "
_UNIQUEID_ATTRIB = (("type", UNIQUEID_TYPE), ("default", "true"))

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Text that `clean_text` and escaping leave as it is.
_PLAIN = re.compile("[^\r&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*")
_DOCTYPE = b"<!DOCTYPE"
_BLANK = " \t\r\n"


def clean_text(text: str) -> str:
    """Drop every character XML 1.0 forbids: control characters other than tab, newline and
    carriage return, U+FFFE, U+FFFF and lone surrogates. Everything else is kept as it is."""
    return _FORBIDDEN.sub("", text)


def serialize(root: etree._Element) -> bytes:
    """The one output step for NFO files.

    UTF-8 without BOM, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, then the
    document: DOCTYPE, comments and processing instructions around the root each on a line
    of their own, the root exactly as the tree holds it, and a trailing newline.
    """
    tree = root.getroottree()
    before = [_node_bytes(node) for node in reversed(list(root.itersiblings(preceding=True)))]
    after = [_node_bytes(node) for node in root.itersiblings()]
    body = _node_bytes(root)
    whole = etree.tostring(tree, encoding="UTF-8", xml_declaration=False)
    ending = body + b"".join(after)
    if whole.endswith(ending):
        prolog = _prolog(whole[: len(whole) - len(ending)], before)
    else:  # not expected from libxml2; keep what the API can give
        doctype = str(tree.docinfo.doctype or "").encode("utf-8")  # type: ignore[attr-defined]
        prolog = [doctype, *before] if doctype else before
    parts = [XML_DECLARATION, *prolog, body, *after]
    return b"\n".join(parts) + b"\n"


def _node_bytes(node: etree._Element) -> bytes:
    return etree.tostring(node, encoding="UTF-8", xml_declaration=False, with_tail=False)


def _prolog(prefix: bytes, nodes: list[bytes]) -> list[bytes]:
    """Split libxml2's serialized prolog into its top-level nodes (to put each on its own
    line), keeping the DOCTYPE with its internal subset where it stood. Falls back to the
    prolog as one piece if it does not split cleanly."""
    pieces: list[bytes] = []
    pos = 0
    for index, node in enumerate(nodes):
        if prefix.startswith(_DOCTYPE, pos):
            end = len(prefix) - sum(map(len, nodes[index:]))
            pieces.append(prefix[pos:end].rstrip(b"\n"))
            pos = end
        if not prefix.startswith(node, pos):
            return [prefix.rstrip(b"\n")] if prefix else []
        pieces.append(node)
        pos += len(node)
    if pos < len(prefix):
        pieces.append(prefix[pos:].rstrip(b"\n"))
    return pieces


def render_tvshow(info: ShowInfo) -> bytes:
    """A fresh `tvshow.nfo`: title, plot, uniqueid, poster thumb, season thumbs, fanart, in
    that order, each only when its value is known."""
    fanart = tvshow_fanart(info)
    extra = [fanart] if fanart is not None else []
    root = fresh_root(TVSHOW_ROOT, [*tvshow_fields(info), *tvshow_thumbs(info), *extra])
    if fanart is not None:
        indent_nested(fanart, INDENT)
    return serialize(root)


def render_episode(info: EpisodeInfo) -> bytes:
    """A fresh episode NFO: title, showtitle, season, episode, aired, genre, studio,
    uniqueid, thumb, in that order, each only when its value is known (studio always)."""
    return fresh_bytes(EPISODE_ROOT, [*episode_specs(info), *episode_thumb_specs(info)])


def render_season(info: SeasonInfo) -> bytes:
    """A fresh `season.nfo`: seasonnumber, title, thumb, each only when known."""
    return fresh_bytes(SEASON_ROOT, [*season_specs(info), *season_thumb_specs(info)])


#: One element of a flat NFO, before it is built: tag, text, attributes (in order).
Spec = tuple[str, str, tuple[tuple[str, str], ...]]


def _escaped(text: str) -> str:
    """Text content as libxml2 writes it (after `clean_text`)."""
    if _PLAIN.fullmatch(text):  # most values: nothing to drop or escape
        return text
    text = clean_text(text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escaped_attribute(value: str) -> str:
    """An attribute value as libxml2 writes it between double quotes (after `clean_text`)."""
    value = _escaped(value).replace('"', "&quot;")
    return value.replace("\n", "&#10;").replace("\t", "&#9;")


def fresh_bytes(tag: str, specs: Sequence[Spec]) -> bytes:
    """`serialize(fresh_root(tag, [text_element(*spec) ...]))` written out directly: the
    same bytes (the lxml path is the tests' oracle), without building a tree for every
    episode of a first pass."""
    if not specs:
        return XML_DECLARATION + f"\n<{tag}/>\n".encode()
    lines = [XML_DECLARATION.decode(), f"<{tag}>"]
    # Every value as it is when none needs a change: one look instead of one per value.
    plain = _PLAIN.fullmatch("".join([text for _tag, text, _attrib in specs])) is not None
    for name, text, attrib in specs:
        start = f"{INDENT}<{name}"
        if attrib:
            start += "".join(f' {key}="{_escaped_attribute(value)}"' for key, value in attrib)
        body = text if plain else _escaped(text)
        lines.append(f"{start}>{body}</{name}>" if body else f"{start}/>")
    lines.append(f"</{tag}>\n")
    return "\n".join(lines).encode()


def fresh_root(tag: str, elements: Sequence[etree._Element]) -> etree._Element:
    """A new root with `elements`, laid out as `append_child` would lay them out one by
    one (2-space indentation, each on its own line), without measuring the layout for each
    (the cost of a fresh file grew with the square of its elements)."""
    root = etree.Element(tag)
    if not elements:
        return root
    root.text = "\n" + INDENT
    for element in elements:
        element.tail = "\n" + INDENT
        root.append(element)
    elements[-1].tail = "\n"
    return root


def season_fields(info: SeasonInfo) -> list[etree._Element]:
    """The season elements written only when missing, in their fresh order."""
    return [spec_element(spec) for spec in season_specs(info)]


def season_specs(info: SeasonInfo) -> list[Spec]:
    """`season_fields` before they are built."""
    specs: list[Spec] = [("seasonnumber", str(info.season), ())]
    if info.title is not None:
        specs.append(("title", info.title, ()))
    return specs


def season_thumbs(info: SeasonInfo) -> list[etree._Element]:
    """The season's poster `<thumb>` (no aspect: Jellyfin reads it as the season's primary
    image), when known."""
    return [spec_element(spec) for spec in season_thumb_specs(info)]


def season_thumb_specs(info: SeasonInfo) -> list[Spec]:
    """`season_thumbs` before they are built."""
    return [] if info.thumb is None else [("thumb", info.thumb, ())]


def spec_element(spec: Spec) -> etree._Element:
    """The element `spec` describes (`text_element`)."""
    tag, text, attrib = spec
    return text_element(tag, text, dict(attrib))


def text_element(tag: str, text: str, attrib: dict[str, str] | None = None) -> etree._Element:
    """A new element whose text (and attribute values) went through `clean_text`. Empty text
    is written as `<tag/>`, the form it has after a parse, so re-merging changes nothing."""
    element = etree.Element(tag)
    for key, value in (attrib or {}).items():
        element.set(key, clean_text(value))
    element.text = clean_text(text) or None
    return element


def uniqueid(value: str) -> etree._Element:
    """`<uniqueid type="twitch" default="true">value</uniqueid>`."""
    return text_element("uniqueid", value, dict(_UNIQUEID_ATTRIB))


def tvshow_fields(info: ShowInfo) -> list[etree._Element]:
    """The tvshow elements written only when missing, in their fresh order."""
    fields: list[etree._Element] = []
    if info.title is not None:
        fields.append(text_element("title", info.title))
    if info.plot is not None:
        fields.append(text_element("plot", info.plot))
    if info.user_id is not None:
        fields.append(uniqueid(info.user_id))
    return fields


def tvshow_thumbs(info: ShowInfo) -> list[etree._Element]:
    """The poster thumb (if known) and one season thumb per season, sorted by season; the
    first thumb given for a season wins."""
    thumbs: list[etree._Element] = []
    if info.poster is not None:
        thumbs.append(text_element("thumb", info.poster, {"aspect": "poster"}))
    seen: dict[int, str] = {}
    for season_thumb in info.season_thumbs:
        seen.setdefault(season_thumb.season, season_thumb.ref)
    for season in sorted(seen):
        attrib = {"aspect": "poster", "type": "season", "season": str(season)}
        thumbs.append(text_element("thumb", seen[season], attrib))
    return thumbs


def tvshow_fanart(info: ShowInfo) -> etree._Element | None:
    """`<fanart><thumb>ref</thumb></fanart>` when an offline image is known."""
    if info.fanart is None:
        return None
    fanart = etree.Element("fanart")
    fanart.append(text_element("thumb", info.fanart))
    return fanart


def episode_fields(info: EpisodeInfo) -> list[etree._Element]:
    """The episode elements written only when missing, in their fresh order."""
    return [spec_element(spec) for spec in episode_specs(info)]


def episode_specs(info: EpisodeInfo) -> list[Spec]:
    """`episode_fields` before they are built."""
    values: list[tuple[str, str | None]] = [
        ("title", info.title),
        ("showtitle", info.showtitle),
        ("season", None if info.season is None else str(info.season)),
        ("episode", None if info.episode is None else str(info.episode)),
        ("aired", None if info.aired is None else info.aired.isoformat()),
        ("genre", info.genre),
        ("studio", STUDIO),
    ]
    specs: list[Spec] = [(tag, value, ()) for tag, value in values if value is not None]
    if info.stream_id is not None:
        specs.append(("uniqueid", info.stream_id, _UNIQUEID_ATTRIB))
    return specs


def episode_thumbs(info: EpisodeInfo) -> list[etree._Element]:
    """The episode's `<thumb>` (no aspect), when an image is known."""
    return [spec_element(spec) for spec in episode_thumb_specs(info)]


def episode_thumb_specs(info: EpisodeInfo) -> list[Spec]:
    """`episode_thumbs` before they are built."""
    return [] if info.thumb is None else [("thumb", info.thumb, ())]


def child_indent(root: etree._Element) -> str | None:
    """The indentation of `root`'s children as the document has it: what follows the last
    newline of the blank separators that have one, the most common of them (the first on a
    tie). Counting, not taking the first, keeps merging idempotent: the separators a merge
    adds only make the chosen indentation more common. None for a file on one line."""
    children = list(root)
    counts: dict[str, int] = {}
    for separator in (root.text, *(child.tail for child in children[:-1])):
        if separator and "\n" in separator and not separator.strip(_BLANK):
            indent = separator.rsplit("\n", 1)[1]
            counts[indent] = counts.get(indent, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda indent: counts[indent])  # the first of the most common


def _separator(root: etree._Element) -> str | None:
    indent = child_indent(root)
    return None if indent is None else "\n" + indent


def append_child(root: etree._Element, element: etree._Element) -> None:
    """Append `element` as the last child of `root` in the style of the existing children
    (a root without children gets 2-space pretty printing). Nothing else is touched."""
    children = list(root)
    if not children:
        if not (root.text or "").strip(_BLANK):
            root.text = "\n" + INDENT
            element.tail = "\n"
        root.append(element)
        return
    last = children[-1]
    element.tail = last.tail
    last.tail = _separator(root)
    root.append(element)


def replace_child(anchor: etree._Element, elements: Sequence[etree._Element]) -> None:
    """Put `elements` where `anchor` stands: the last one takes over the anchor's tail, the
    others are separated in the document's style."""
    parent = anchor.getparent()
    if parent is None or not elements:
        return
    separator = _separator(parent)
    for element in elements:
        element.tail = separator
        anchor.addprevious(element)
    elements[-1].tail = anchor.tail
    parent.remove(anchor)


def remove_child(element: etree._Element) -> None:
    """Remove `element` but keep the document's layout: the whitespace that followed it
    takes the place of the whitespace before it (so a removed last child leaves the closing
    layout), and non-blank text around it is never lost."""
    parent = element.getparent()
    if parent is None:
        return
    previous = element.getprevious()
    before = (parent.text if previous is None else previous.tail) or ""
    after = element.tail or ""
    if before.strip(_BLANK) or after.strip(_BLANK):
        joined = before + after
    elif previous is None and element.getnext() is not None:
        joined = before
    else:
        joined = after
    if previous is None:
        parent.text = joined or None
    else:
        previous.tail = joined or None
    parent.remove(element)


def indent_nested(element: etree._Element, indent: str | None) -> None:
    """Lay out the children of a newly created `element` one level deeper than `indent`
    (None: keep it on one line)."""
    children = list(element)
    if indent is None or not children:
        return
    inner = indent + (indent or INDENT)
    element.text = "\n" + inner
    for child in children[:-1]:
        child.tail = "\n" + inner
    children[-1].tail = "\n" + indent
