"""The schema of the state database, as numbered migrations applied in order."""

from __future__ import annotations

SCHEMA_VERSION = 12

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE twitch_users (
        user_id TEXT PRIMARY KEY, login TEXT NOT NULL, display_name TEXT NOT NULL,
        description TEXT NOT NULL, profile_url TEXT, offline_url TEXT, fetched_at REAL NOT NULL);
    CREATE INDEX twitch_users_login ON twitch_users (login);
    CREATE TABLE games (
        name_key TEXT PRIMARY KEY, game_id TEXT NOT NULL, name TEXT NOT NULL,
        box_art_url TEXT, fetched_at REAL NOT NULL);
    CREATE TABLE missing (
        kind TEXT NOT NULL, key TEXT NOT NULL, checked_at REAL NOT NULL,
        PRIMARY KEY (kind, key));
    CREATE TABLE category_slugs (
        name TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, game_id TEXT);
    CREATE TABLE images (
        rel TEXT PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, source_url TEXT,
        etag TEXT, last_modified TEXT, sha256 TEXT, size INTEGER NOT NULL DEFAULT 0,
        cached INTEGER NOT NULL DEFAULT 0, last_success REAL, last_attempt REAL,
        failures INTEGER NOT NULL DEFAULT 0, next_retry REAL, last_error TEXT,
        error_status INTEGER);
    CREATE INDEX images_kind ON images (kind, cached, failures);
    CREATE TABLE recordings (
        rel TEXT PRIMARY KEY, folder TEXT NOT NULL, size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, user_id TEXT, stream_id TEXT, category TEXT,
        artwork_rel TEXT, seen_at REAL NOT NULL);
    CREATE INDEX recordings_folder ON recordings (folder);
    CREATE TABLE nfo_files (
        path TEXT PRIMARY KEY, status TEXT NOT NULL, sha256 TEXT, updated_at REAL NOT NULL);
    CREATE INDEX nfo_status ON nfo_files (status);
    CREATE TABLE notes (key TEXT PRIMARY KEY, at REAL NOT NULL);
    """,
    # 2: stat signatures, so a rescan compares with the state instead of reading files.
    2: """
    ALTER TABLE recordings ADD COLUMN sig TEXT;
    CREATE INDEX recordings_user ON recordings (user_id);
    CREATE INDEX recordings_category ON recordings (category);
    CREATE TABLE folders (
        name TEXT PRIMARY KEY, sig TEXT, user_id TEXT, login TEXT, seen_at REAL NOT NULL);
    """,  # 3: counters kept by triggers, so stats cost the same at 100 or 100,000 recordings.
    3: """
    CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
    CREATE INDEX images_retry ON images (next_retry) WHERE failures > 0;
    CREATE TRIGGER images_ins AFTER INSERT ON images BEGIN
        INSERT INTO counters (name, n) VALUES ('img:' || NEW.kind || ':' ||
                 CASE WHEN NEW.cached = 1 THEN 'cached'
                 WHEN NEW.failures > 0 THEN 'failed' ELSE 'pending' END, +1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
        INSERT INTO counters (name, n) SELECT 'bytes:' || NEW.kind, +NEW.size WHERE NEW.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
        INSERT INTO counters (name, n)
            SELECT 'awu:' || substr(NEW.key, 1, instr(NEW.key, '/') - 1), +1
            WHERE NEW.kind = 'artwork' AND NEW.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER images_del AFTER DELETE ON images BEGIN
        INSERT INTO counters (name, n) VALUES ('img:' || OLD.kind || ':' ||
                 CASE WHEN OLD.cached = 1 THEN 'cached'
                 WHEN OLD.failures > 0 THEN 'failed' ELSE 'pending' END, -1)
            ON CONFLICT (name) DO UPDATE SET n = n - 1;
        INSERT INTO counters (name, n) SELECT 'bytes:' || OLD.kind, -OLD.size WHERE OLD.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
        INSERT INTO counters (name, n)
            SELECT 'awu:' || substr(OLD.key, 1, instr(OLD.key, '/') - 1), -1
            WHERE OLD.kind = 'artwork' AND OLD.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n - 1;
    END;
    CREATE TRIGGER images_upd AFTER UPDATE ON images BEGIN
        INSERT INTO counters (name, n) VALUES ('img:' || OLD.kind || ':' ||
                 CASE WHEN OLD.cached = 1 THEN 'cached'
                 WHEN OLD.failures > 0 THEN 'failed' ELSE 'pending' END, -1)
            ON CONFLICT (name) DO UPDATE SET n = n - 1;
        INSERT INTO counters (name, n) SELECT 'bytes:' || OLD.kind, -OLD.size WHERE OLD.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
        INSERT INTO counters (name, n)
            SELECT 'awu:' || substr(OLD.key, 1, instr(OLD.key, '/') - 1), -1
            WHERE OLD.kind = 'artwork' AND OLD.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n - 1;
        INSERT INTO counters (name, n) VALUES ('img:' || NEW.kind || ':' ||
                 CASE WHEN NEW.cached = 1 THEN 'cached'
                 WHEN NEW.failures > 0 THEN 'failed' ELSE 'pending' END, +1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
        INSERT INTO counters (name, n) SELECT 'bytes:' || NEW.kind, +NEW.size WHERE NEW.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
        INSERT INTO counters (name, n)
            SELECT 'awu:' || substr(NEW.key, 1, instr(NEW.key, '/') - 1), +1
            WHERE NEW.kind = 'artwork' AND NEW.cached = 1
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER nfo_ins AFTER INSERT ON nfo_files BEGIN
        INSERT INTO counters (name, n) VALUES ('nfo:' || NEW.status, 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER nfo_del AFTER DELETE ON nfo_files BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'nfo:' || OLD.status;
    END;
    CREATE TRIGGER nfo_upd AFTER UPDATE OF status ON nfo_files BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'nfo:' || OLD.status;
        INSERT INTO counters (name, n) VALUES ('nfo:' || NEW.status, 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    INSERT INTO counters (name, n)
        SELECT 'img:' || kind || ':' || CASE WHEN images.cached = 1 THEN 'cached'
                 WHEN images.failures > 0 THEN 'failed' ELSE 'pending' END, COUNT(*)
        FROM images GROUP BY 1;
    INSERT INTO counters (name, n)
        SELECT 'bytes:' || kind, SUM(size) FROM images WHERE cached = 1 GROUP BY 1;
    INSERT INTO counters (name, n)
        SELECT 'awu:' || substr(key, 1, instr(key, '/') - 1), COUNT(*) FROM images
        WHERE kind = 'artwork' AND cached = 1 GROUP BY 1;
    INSERT INTO counters (name, n) SELECT 'nfo:' || status, COUNT(*) FROM nfo_files GROUP BY 1;
    """,
    # 4: sidecar images placed next to the recordings (nfo.sidecars).
    4: """
    CREATE TABLE sidecars (
        path TEXT PRIMARY KEY, owner TEXT NOT NULL, sha256 TEXT, foreign_file INTEGER NOT NULL,
        updated_at REAL NOT NULL);
    """,
    # 5: streamers with artwork as one counter (stats read a fixed set of counters).
    5: """
    CREATE TRIGGER awu_up AFTER UPDATE OF n ON counters
        WHEN NEW.name LIKE 'awu:%' AND OLD.n <= 0 AND NEW.n > 0 BEGIN
        INSERT INTO counters (name, n) VALUES ('artwork_streamers', 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER awu_new AFTER INSERT ON counters
        WHEN NEW.name LIKE 'awu:%' AND NEW.n > 0 BEGIN
        INSERT INTO counters (name, n) VALUES ('artwork_streamers', 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER awu_down AFTER UPDATE OF n ON counters
        WHEN NEW.name LIKE 'awu:%' AND OLD.n > 0 AND NEW.n <= 0 BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'artwork_streamers';
    END;
    INSERT OR REPLACE INTO counters (name, n)
        SELECT 'artwork_streamers', COUNT(*) FROM counters WHERE name LIKE 'awu:%' AND n > 0;
    """,
    # 6: folder mtimes, so a rescan stats folders instead of every file.
    6: """
    CREATE TABLE dirs (
        path TEXT PRIMARY KEY, folder TEXT NOT NULL, mtime_ns INTEGER NOT NULL);
    CREATE INDEX dirs_folder ON dirs (folder);
    """,
    # 7: facts in columns: where an image came from (`origin`, no more `local:`/`frame:`/
    # `migrated:` prefixes in the URL column), a recording's status (no more `pending` and
    # `incomplete:<sig>` sentinels in its signature) and a sidecar's owner kind.
    7: """
    ALTER TABLE images RENAME COLUMN source_url TO source;
    ALTER TABLE images ADD COLUMN origin TEXT NOT NULL DEFAULT 'url';
    UPDATE images SET origin = 'local', source = substr(source, 7)
        WHERE source LIKE 'local:%';
    UPDATE images SET origin = 'frame', source = substr(source, 7)
        WHERE source LIKE 'frame:%';
    UPDATE images SET origin = 'migrated', source = substr(source, 10)
        WHERE source LIKE 'migrated:%';
    ALTER TABLE recordings ADD COLUMN status TEXT NOT NULL DEFAULT 'done';
    UPDATE recordings SET status = 'pending', sig = NULL WHERE sig = 'pending';
    UPDATE recordings SET status = 'incomplete', sig = substr(sig, 12)
        WHERE sig LIKE 'incomplete:%';
    CREATE INDEX recordings_open ON recordings (status) WHERE status != 'done';
    ALTER TABLE sidecars ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'recording';
    UPDATE sidecars SET owner_kind = 'folder', owner = substr(owner, 8)
        WHERE owner LIKE 'folder:%';
    UPDATE sidecars SET owner = substr(owner, 5) WHERE owner LIKE 'rec:%';
    """,
    # 8: the cached file's mtime (a file changed on disk, e.g. through a hard-linked sidecar,
    # is noticed), sidecar sizes and their counters (stats show what sidecars take), and the
    # output settings each NFO was written with live in `meta` (no table needed).
    8: """
    ALTER TABLE images ADD COLUMN file_mtime_ns INTEGER;
    ALTER TABLE sidecars ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER sidecars_ins AFTER INSERT ON sidecars
        WHEN NEW.foreign_file = 0 AND NEW.sha256 IS NOT NULL BEGIN
        INSERT INTO counters (name, n) VALUES ('sidecars:files', 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
        INSERT INTO counters (name, n) VALUES ('sidecars:bytes', NEW.size)
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    END;
    CREATE TRIGGER sidecars_del AFTER DELETE ON sidecars
        WHEN OLD.foreign_file = 0 AND OLD.sha256 IS NOT NULL BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'sidecars:files';
        UPDATE counters SET n = n - OLD.size WHERE name = 'sidecars:bytes';
    END;
    CREATE TRIGGER sidecars_upd_old AFTER UPDATE ON sidecars
        WHEN OLD.foreign_file = 0 AND OLD.sha256 IS NOT NULL BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'sidecars:files';
        UPDATE counters SET n = n - OLD.size WHERE name = 'sidecars:bytes';
    END;
    CREATE TRIGGER sidecars_upd_new AFTER UPDATE ON sidecars
        WHEN NEW.foreign_file = 0 AND NEW.sha256 IS NOT NULL BEGIN
        INSERT INTO counters (name, n) VALUES ('sidecars:files', 1)
            ON CONFLICT (name) DO UPDATE SET n = n + 1;
        INSERT INTO counters (name, n) VALUES ('sidecars:bytes', NEW.size)
            ON CONFLICT (name) DO UPDATE SET n = n + excluded.n;
    END;
    INSERT OR REPLACE INTO counters (name, n)
        SELECT 'sidecars:files', COUNT(*) FROM sidecars
        WHERE foreign_file = 0 AND sha256 IS NOT NULL;
    """,
    # 9: each recording's start time and the season and episode numbers it has (and whether
    # svimaged numbered it), so a folder can be numbered without reading every sidecar; since
    # when its signature is unchanged (finished even with an mtime in the future); the
    # reason an NFO was left alone (stats show it). Signatures changed shape: look again.
    9: """
    ALTER TABLE recordings ADD COLUMN started_at REAL;
    ALTER TABLE recordings ADD COLUMN season INTEGER;
    ALTER TABLE recordings ADD COLUMN episode INTEGER;
    ALTER TABLE recordings ADD COLUMN numbered INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE recordings ADD COLUMN sig_since REAL;
    ALTER TABLE nfo_files ADD COLUMN note TEXT;
    UPDATE recordings SET sig = NULL;
    """,
    # 10: per media server told about changes (config `notify`, by its name): notifications
    # sent and failed attempts, the last success and the last failure with its message.
    10: """
    CREATE TABLE notify_servers (
        name TEXT PRIMARY KEY, type TEXT NOT NULL, url TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
        last_success REAL, last_failure REAL, last_error TEXT);
    """,
    # 11: no index on recordings' user ids and categories. Every first pass wrote three index
    # entries per recording for invalidations that are rare and now come in batches (one
    # scan of the table per batch of ids or names).
    11: """
    DROP INDEX recordings_user;
    DROP INDEX recordings_category;
    """,
    # 12: NFOs are found by status only to list those left alone (`status = 'error'`): an
    # index of those alone, where every NFO a pass wrote had an entry.
    12: """
    DROP INDEX nfo_status;
    CREATE INDEX nfo_errors ON nfo_files (updated_at) WHERE status = 'error';
    """,
}
