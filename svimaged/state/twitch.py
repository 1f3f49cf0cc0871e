"""What Twitch said, cached: users, games, "not found" answers and category slugs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast, overload

from svimaged.core.model import TwitchGame, TwitchUser
from svimaged.core.text import without_lone_surrogates
from svimaged.state.db import Database
from svimaged.state.rows import to_user


class TwitchCache:
    """Helix users and games as last fetched, names Helix does not know, and the slug each
    category name was given for good."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert_user(self, user: TwitchUser, at: float) -> None:
        """Remember a Helix user (and forget that its login was missing). Text that SQLite
        cannot store (lone surrogates) is stored with U+FFFD in their place."""
        self._db.execute(
            "INSERT OR REPLACE INTO twitch_users VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _text(user.id),
                _text(user.login.lower()),
                _text(user.display_name),
                _text(user.description),
                _text(user.profile_image_url),
                _text(user.offline_image_url),
                at,
            ),
        )
        self._db.execute(
            "DELETE FROM missing WHERE kind = 'login' AND key = ?", (_text(user.login.lower()),)
        )

    def user_by_id(self, user_id: str) -> TwitchUser | None:
        """The stored Helix user with this id."""
        return self.users_by_id([user_id]).get(user_id)

    def user_by_login(self, login: str) -> TwitchUser | None:
        """The most recently fetched Helix user with this login."""
        return self.users_by_login([login]).get(login.lower())

    def users_by_id(self, ids: Iterable[str]) -> dict[str, TwitchUser]:
        """`user_by_id` for many ids at once, by id; ids the state does not know are left
        out."""
        rows = self._db.select_in(
            "SELECT * FROM twitch_users WHERE user_id IN ({marks})", sorted(set(ids))
        )
        return {str(row[0]): to_user(row) for row in rows}

    def users_by_login(self, logins: Iterable[str]) -> dict[str, TwitchUser]:
        """`user_by_login` for many logins at once, by lowercased login; logins the state
        does not know are left out."""
        rows = self._db.select_in(
            "SELECT * FROM twitch_users WHERE login IN ({marks}) ORDER BY fetched_at",
            sorted({login.lower() for login in logins}),
        )
        return {str(row[1]): to_user(row) for row in rows}  # the newest of a login last

    def logins_fetched_at(self, logins: Iterable[str]) -> dict[str, float]:
        """When the users with these logins were last fetched from Helix, by lowercased
        login; logins never fetched are left out."""
        rows = self._db.select_in(
            "SELECT login, MAX(fetched_at) FROM twitch_users WHERE login IN ({marks}) "
            "GROUP BY login",
            sorted({login.lower() for login in logins}),
        )
        return {str(login): float(cast(float, at)) for login, at in rows}

    def ids_fetched_at(self, ids: Iterable[str]) -> dict[str, float]:
        """When the users with these ids were last fetched from Helix, by id; ids never
        fetched are left out."""
        rows = self._db.select_in(
            "SELECT user_id, fetched_at FROM twitch_users WHERE user_id IN ({marks})",
            sorted(set(ids)),
        )
        return {str(uid): float(cast(float, at)) for uid, at in rows}

    def game_fetched_at(self, name: str) -> float | None:
        """When the category with this name was last fetched from Helix, or None."""
        row = self._db.execute(
            "SELECT fetched_at FROM games WHERE name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else float(row[0])

    def upsert_game(self, game: TwitchGame, at: float) -> None:
        """Remember a Helix game under its case-folded name (text as `upsert_user`)."""
        name = _text(game.name)
        self._db.execute(
            "INSERT OR REPLACE INTO games VALUES (?, ?, ?, ?, ?)",
            (name.casefold(), _text(game.id), name, _text(game.box_art_url), at),
        )
        self._db.execute("DELETE FROM missing WHERE kind = 'game' AND key = ?", (name.casefold(),))

    def game_by_name(self, name: str) -> TwitchGame | None:
        """The stored Helix game with this name (case-insensitive)."""
        row = self._db.execute(
            "SELECT game_id, name, box_art_url FROM games WHERE name_key = ?", (name.casefold(),)
        ).fetchone()
        return None if row is None else TwitchGame(id=row[0], name=row[1], box_art_url=row[2])

    def game_by_id(self, game_id: str) -> tuple[TwitchGame, float] | None:
        """The stored Helix game with this id and when it was fetched."""
        row = self._db.execute(
            "SELECT game_id, name, box_art_url, fetched_at FROM games WHERE game_id = ? "
            "ORDER BY fetched_at DESC LIMIT 1",
            (game_id,),
        ).fetchone()
        if row is None:
            return None
        return TwitchGame(id=row[0], name=row[1], box_art_url=row[2]), float(row[3])

    def mark_missing(self, kind: str, key: str, at: float) -> None:
        """Remember that Helix does not know `key` (a login or game name) as of `at`."""
        self._db.execute("INSERT OR REPLACE INTO missing VALUES (?, ?, ?)", (kind, key, at))

    def missing_since(self, kind: str, key: str) -> float | None:
        """When Helix last said it does not know `key`, or None."""
        return self.missing_many(kind, [key]).get(key)

    def missing_many(self, kind: str, keys: Iterable[str]) -> dict[str, float]:
        """`missing_since` for many keys of one kind at once, by key; keys Helix was not
        asked about are left out."""
        rows = self._db.select_in(
            "SELECT key, checked_at FROM missing WHERE kind = ? AND key IN ({marks})",
            sorted(set(keys)),
            (kind,),
        )
        return {str(key): float(cast(float, at)) for key, at in rows}

    def category_slug(self, name: str) -> str | None:
        """The slug this category was given before, if any."""
        row = self._db.execute("SELECT slug FROM category_slugs WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def slug_owner(self, slug: str) -> str | None:
        """The category name that owns `slug`, if any."""
        row = self._db.execute("SELECT name FROM category_slugs WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else str(row[0])

    def assign_slug(self, name: str, slug: str, game_id: str | None) -> None:
        """Give `name` the slug `slug` for good (collisions are decided by the caller).

        A slug owned by another name raises `StateError`; it is never taken away silently
        (two categories would then share one file)."""
        self._db.execute(
            "INSERT INTO category_slugs (name, slug, game_id) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET slug = excluded.slug, game_id = excluded.game_id",
            (name, slug, game_id),
        )


@overload
def _text(value: str) -> str: ...
@overload
def _text(value: str | None) -> str | None: ...
def _text(value: str | None) -> str | None:
    """Text as SQLite can store it: lone surrogates (JSON `\\ud800`) become U+FFFD."""
    return None if value is None else without_lone_surrogates(value)
