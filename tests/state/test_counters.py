"""The trigger-kept counters behind stats always equal a recount of the tables."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from svimaged.core.model import ImageKind, Origin
from svimaged.state import State

RELS = [
    ("profiles/profile_avatar_1.jpg", ImageKind.PROFILE, "1"),
    ("categories/x.jpg", ImageKind.CATEGORY, "X"),
    ("artwork/1/stream_a.jpg", ImageKind.ARTWORK, "1/a"),
    ("artwork/1/stream_b.jpg", ImageKind.ARTWORK, "1/b"),
    ("artwork/2/stream_c.jpg", ImageKind.ARTWORK, "2/c"),
]

op = st.tuples(
    st.sampled_from(["ok", "fail", "304", "forget", "uncache", "nfo"]),
    st.integers(0, len(RELS) - 1),
    st.integers(1, 5000),
)


def recount(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT kind, cached, failures, size, key FROM images").fetchall()
        nfo = dict(conn.execute("SELECT status, COUNT(*) FROM nfo_files GROUP BY 1").fetchall())
    finally:
        conn.close()

    def n(kind: str, state: str) -> int:
        def bucket(cached: int, failures: int) -> str:
            return "cached" if cached else "failed" if failures else "pending"

        return sum(1 for k, c, f, _s, _k in rows if k == kind and bucket(c, f) == state)

    return {
        "profiles": n("profile", "cached"),
        "failed": sum(n(k.value, "failed") for k in ImageKind),
        "pending": sum(n(k.value, "pending") for k in ImageKind),
        "artworks": n("artwork", "cached"),
        "bytes": sum(s for _k, c, _f, s, _key in rows if c),
        "awu": len({key.split("/")[0] for k, c, _f, _s, key in rows if k == "artwork" and c}),
        "nfo": (nfo.get("written", 0), nfo.get("up_to_date", 0), nfo.get("error", 0)),
    }


def view(stats: dict[str, object]) -> dict[str, object]:
    p, a, n, q = (stats[k] for k in ("profiles", "artwork", "nfo", "queue"))
    assert isinstance(p, dict) and isinstance(a, dict) and isinstance(n, dict)
    assert isinstance(q, dict)
    return {
        "profiles": p["cached_profiles"],
        "failed": stats["total_failed"],
        "pending": q["pending"],
        "artworks": a["cached_artworks"],
        "bytes": stats["bytes_on_disk"],
        "awu": a["streamers_with_artwork"],
        "nfo": (n["written"], n["up_to_date"], n["errors"]),
    }


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op, max_size=40))
def test_counters_match_a_recount(
    tmp_path_factory: object, ops: list[tuple[str, int, int]]
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="svd-counters-"))
    state = State.open(folder / "state.db")
    try:
        for t, (name, index, size) in enumerate(ops):
            rel, kind, key = RELS[index]
            if name == "ok":
                state.images.record_success(
                    rel,
                    kind,
                    key,
                    origin=Origin.URL,
                    source="u",
                    etag=None,
                    last_modified=None,
                    sha256="x",
                    size=size,
                    at=t,
                )
            elif name == "fail":
                state.images.record_failure(
                    rel,
                    kind,
                    key,
                    origin=Origin.URL,
                    source="u",
                    error="e",
                    status=500,
                    at=t,
                    next_retry=t + 60,
                )
            elif name == "304":
                state.images.record_not_modified(rel, t)
            elif name == "forget":
                state.images.forget(rel)
            elif name == "uncache":
                state.images.mark_uncached(rel)
            else:
                status = ["written", "up_to_date", "error", "locked"][size % 4]
                state.outputs.record_nfos([(f"n{index}.nfo", status, None, t, None)])
        assert view(state.stats(0)) == recount(folder / "state.db")
    finally:
        state.close()
        shutil.rmtree(folder)
