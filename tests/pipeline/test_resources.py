"""The shared transfer pool of `pipeline.resources`: with downloads at once bounded by
`download.concurrency`, storing one image (a durable write) does not keep another
download from starting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from svimaged.config import parse_config
from svimaged.core.clock import FakeClock
from svimaged.core.model import ImageKind
from svimaged.core.names import profile_rel
from svimaged.demo.config import fake_config_data
from svimaged.demo.fake_twitch import ALICE_ID, BOB_ID, FakeTwitch
from svimaged.images.store import ImageStore, StoredImage
from svimaged.images.tasks import Action, ImageTask
from svimaged.pipeline.resources import build_resources

#: Real seconds a test waits for the fake to see a request before it gives up.
PATIENCE = 5.0


def test_storing_an_image_does_not_hold_a_download_slot(
    tmp_path: Path, fake: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_config_data(fake, tmp_path / "rec", tmp_path / "state")
    data["download"]["concurrency"] = 1
    (tmp_path / "rec").mkdir()
    res = build_resources(parse_config(data, {}), FakeClock(start=time.time()))
    seen_while_storing: list[int] = []
    store = ImageStore.store

    def slow_store(self: ImageStore, rel: str, jpeg: bytes) -> StoredImage:
        """The first image's write waits (up to PATIENCE) for the second download."""
        deadline = time.monotonic() + PATIENCE
        while not seen_while_storing and fake.hits["cdn"] < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_while_storing.append(fake.hits["cdn"])
        return store(self, rel, jpeg)

    monkeypatch.setattr(ImageStore, "store", slow_store)
    jobs = [
        (
            ImageTask(profile_rel(uid), ImageKind.PROFILE, uid, url=fake.url_for("profile", uid)),
            Action.FETCH,
            None,
        )
        for uid in (ALICE_ID, BOB_ID)
    ]
    try:
        totals = res.transferer().run(jobs)
    finally:
        res.close()
    assert len(totals.stored) == 2
    assert seen_while_storing[0] == 2  # the second download ran while the first was stored
    assert fake.hits["cdn"] == 2
