"""Fixtures of the Kodi integration test: the library (built once per module, one svimaged
pass against the fake Twitch), one Kodi scanning it, and the snapshot of what Kodi shows.

Without Kodi or Xvfb, or when they cannot start here, the Kodi tests skip with the reason.
`SVIMAGED_KODI_TEST=require` turns that skip into a failure (for a machine that is meant to
run them)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import FakeTwitch, sample_library
from svimaged.pipeline import run_once
from tests.integration import library
from tests.integration.kodi import (
    Binaries,
    KodiHarness,
    KodiUnavailable,
    LibrarySnapshot,
    find_binaries,
)
from tests.integration.library import BuiltLibrary


@contextlib.contextmanager
def scanned_kodi(workdir: Path, source: Path, binaries: Binaries) -> Iterator[KodiHarness]:
    """A Kodi in `workdir` with `source` as its TV-shows source (local information only),
    scanned, and stopped afterwards; the test is skipped (or fails, when Kodi is required)
    when Kodi cannot start."""
    harness = KodiHarness(workdir=workdir, source=source, binaries=binaries)
    try:
        harness.start()
    except KodiUnavailable as exc:
        _unavailable(exc)
    try:
        harness.set_tv_source()
        harness.scan()
        yield harness
    finally:
        harness.stop()


def _unavailable(exc: KodiUnavailable) -> NoReturn:
    if os.environ.get("SVIMAGED_KODI_TEST") == "require":
        pytest.fail(f"Kodi is required (SVIMAGED_KODI_TEST=require): {exc}")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def kodi_binaries() -> Binaries:
    """Kodi and Xvfb, or a skip naming what is missing."""
    try:
        return find_binaries()
    except KodiUnavailable as exc:
        _unavailable(exc)


@pytest.fixture(scope="module")
def built_library(tmp_path_factory: pytest.TempPathFactory) -> BuiltLibrary:
    """`library.build` below a fresh folder, then one `run_once` against the fake Twitch."""
    base = tmp_path_factory.mktemp("kodi-library")
    root = base / "recordings"
    now = time.time()
    with FakeTwitch() as fake:
        sample_library(fake)
        library.build(root, fake, now=now)
        config = parse_config(fake_config_data(fake, root, base / "state"), {})
        summary = run_once(config, FakeClock(start=now))
    return BuiltLibrary(root=root, summary=summary)


@pytest.fixture(scope="module")
def kodi(
    kodi_binaries: Binaries,
    built_library: BuiltLibrary,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KodiHarness]:
    """One Kodi with the library as a TV-shows source (local information only), scanned."""
    with scanned_kodi(tmp_path_factory.mktemp("kodi"), built_library.root, kodi_binaries) as kodi:
        yield kodi


@pytest.fixture(scope="module")
def shown(kodi: KodiHarness, built_library: BuiltLibrary) -> LibrarySnapshot:
    """What Kodi shows of the library."""
    return LibrarySnapshot.take(kodi, built_library.root)
