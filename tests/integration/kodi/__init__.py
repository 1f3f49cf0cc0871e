"""A real Kodi 20 for integration tests: the harness that runs it headless (`harness`), the
profile that makes it usable unattended (`profile`), the check that it can show an art URL
(`art`) and the snapshot of what it shows (`snapshot`)."""

from tests.integration.kodi.art import ImageCheck, unwrap_image_url
from tests.integration.kodi.harness import (
    Binaries,
    KodiError,
    KodiHarness,
    KodiUnavailable,
    SeasonRow,
    find_binaries,
)
from tests.integration.kodi.snapshot import LibrarySnapshot

__all__ = [
    "Binaries",
    "ImageCheck",
    "KodiError",
    "KodiHarness",
    "KodiUnavailable",
    "LibrarySnapshot",
    "SeasonRow",
    "find_binaries",
    "unwrap_image_url",
]
