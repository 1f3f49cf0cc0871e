"""Grouping a pass's writes by show folder for one server, with its path map (pure)."""

from __future__ import annotations

from svimaged.notify.changes import (
    MAX_FILES,
    FolderBatch,
    Update,
    folder_batches,
    is_within,
    show_folder,
)

REC = "/srv/rec"
ALICE = f"{REC}/Alice Plays"
NFO_1 = f"{ALICE}/Season 2026-11/alice - S202611E01 - a.nfo"
NFO_2 = f"{ALICE}/Season 2026-11/alice - S202611E02 - b.nfo"
MAP = [("/srv/rec", "/data/tv")]


def test_changes_are_grouped_by_show_folder_and_mapped() -> None:
    bob_jpg = f"{REC}/Bob/2026/11/bob - S202611E01 - x.jpg"
    batches = folder_batches([NFO_1], [f"{ALICE}/tvshow.nfo", bob_jpg], REC, MAP)
    assert sorted(batches) == ["/data/tv/Alice Plays", "/data/tv/Bob"]
    alice = batches["/data/tv/Alice Plays"]
    assert alice.created == {"/data/tv/Alice Plays/Season 2026-11/alice - S202611E01 - a.nfo"}
    assert alice.modified == {"/data/tv/Alice Plays/tvshow.nfo"}
    assert alice.update is Update.CREATED
    bob = batches["/data/tv/Bob"]
    assert bob.created == frozenset() and bob.update is Update.MODIFIED
    assert bob.modified == {"/data/tv/Bob/2026/11/bob - S202611E01 - x.jpg"}


def test_a_url_prefix_map_keeps_the_rest_of_the_path() -> None:
    batches = folder_batches([NFO_1], [], REC, [("/srv/rec", "smb://nas/tv")])
    (batch,) = batches.values()
    assert batch.show == "smb://nas/tv/Alice Plays"
    assert batch.created == {"smb://nas/tv/Alice Plays/Season 2026-11/alice - S202611E01 - a.nfo"}


def test_without_a_map_the_paths_stay() -> None:
    (batch,) = folder_batches([], [NFO_2], REC, []).values()
    assert batch.show == ALICE and batch.modified == {NFO_2}


def test_created_wins_over_modified_for_the_same_file() -> None:
    (batch,) = folder_batches([NFO_1], [NFO_1, NFO_2], REC, []).values()
    assert batch.created == {NFO_1} and batch.modified == {NFO_2}
    later = FolderBatch(ALICE, modified=frozenset({NFO_1}))
    assert batch.merged(later).created == {NFO_1}
    assert NFO_1 not in batch.merged(later).modified


def test_paths_outside_a_streamer_folder_are_no_shows() -> None:
    assert folder_batches([f"{REC}/loose.nfo", "/elsewhere/x/y.nfo"], [REC], REC, []) == {}
    assert show_folder(f"{REC}/Alice Plays", REC) is None  # the folder itself is not a change
    assert show_folder(f"{REC}2/Alice/x.nfo", REC) is None
    assert show_folder(NFO_1, REC) == ALICE


def test_a_batch_with_too_many_files_stands_for_the_whole_show() -> None:
    many = frozenset(f"{ALICE}/S/{n}.nfo" for n in range(MAX_FILES))
    batch = FolderBatch(ALICE, modified=many).merged(FolderBatch(ALICE, created=frozenset({NFO_1})))
    assert batch.overflow and batch.created == {NFO_1} and batch.modified == frozenset()
    assert FolderBatch(ALICE, modified=many).merged(FolderBatch(ALICE)).overflow is False


def test_is_within_compares_whole_components() -> None:
    assert is_within("/data/tv/Alice", "/data/tv")
    assert is_within("/data/tv/", "/data/tv")
    assert is_within("smb://nas/tv/a", "smb://nas/tv/")
    assert not is_within("/data/tv2/Alice", "/data/tv")
    assert not is_within("/data", "/data/tv")
