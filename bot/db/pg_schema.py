"""The PostgreSQL schema, as SQL migrations applied in order (the schema_version table counts them).

The tables match SQLite's column for column, and keep its types: timestamps are ISO-8601 text
from the store's UTC clock, compared and sorted as text, and lists are JSON text; both backends
then hand back the same rows. Every text column compares bytewise (COLLATE "C"), as SQLite does:
under a language collation such as en_US, punctuation is weighed last, and "…00+00:00" against
"…00.5+00:00" or ID ordering would not sort as the code expects.
"""

from __future__ import annotations

from typing import Any

import psycopg

# Any fixed number: every process applying migrations takes this lock first.
MIGRATION_LOCK = 0x6D617863  # "maxc"
# Another: every grant of MaxCare's shared budget is decided under it (maxcare_take below).
BUDGET_LOCK = 0x6D616267  # "mabg"

_T = 'text COLLATE "C"'

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    # 1: the schema of SQLite's version 5, and an index of the rows still to be worked (most
    # rows are confirmed; the sweeps and the start-up take-over read only the others).
    f"""
    CREATE TABLE links (
        slack_user_id {_T} PRIMARY KEY,
        provider_id {_T},
        provider_name {_T},
        team_id {_T},
        linked_by {_T},
        linked_at {_T},
        stale_reason {_T},
        stale_since {_T}
    );
    CREATE INDEX links_provider_id ON links (provider_id);
    CREATE TABLE link_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        slack_user_id {_T},
        actor {_T},
        at {_T},
        old_provider_id {_T},
        new_provider_id {_T}
    );
    CREATE INDEX link_events_slack_user_id ON link_events (slack_user_id);
    CREATE TABLE submissions (
        view_id {_T} PRIMARY KEY,
        team_id {_T},
        user_id {_T},
        source {_T},
        note_id {_T},
        notes {_T},
        assignee_user_ids {_T},
        provider_id {_T},
        assignee_ids {_T},
        channel_id {_T},
        thread_ts {_T},
        response_url {_T},
        message_key {_T},
        state {_T},
        attempts integer,
        last_error {_T},
        trace_id {_T},
        task_id {_T},
        created_at {_T},
        updated_at {_T},
        confirmed_at {_T},
        claimed_by {_T},
        lease_until {_T},
        ambiguous integer NOT NULL DEFAULT 0,
        acked_at {_T}
    );
    CREATE INDEX submissions_state ON submissions (state);
    CREATE INDEX submissions_message_key ON submissions (message_key)
        WHERE message_key IS NOT NULL;
    CREATE INDEX submissions_unconfirmed ON submissions (created_at) WHERE confirmed_at IS NULL;
    CREATE TABLE tasks (
        task_id {_T} PRIMARY KEY,
        view_id {_T},
        note_id {_T},
        status {_T},
        sync_status {_T},
        channel_id {_T},
        message_ts {_T},
        created_by {_T},
        created_at {_T},
        updated_at {_T},
        maxcare_updated_at {_T},
        checked_at {_T},
        follow_until {_T},
        next_check_at {_T},
        follow_checks integer,
        claimed_by {_T},
        lease_until {_T}
    );
    CREATE INDEX tasks_follow ON tasks (follow_until, next_check_at);
    CREATE INDEX tasks_created_by ON tasks (created_by, created_at);
    """,
    # 2 (SQLite's 6): workflow steps' completion, the task watch's schedule and claims, and
    # each person's choice to hear of the tasks assigned to them.
    f"""
    ALTER TABLE submissions ADD COLUMN completed_at {_T};
    ALTER TABLE tasks ADD COLUMN watch_next_at {_T};
    ALTER TABLE tasks ADD COLUMN watch_status {_T};
    ALTER TABLE tasks ADD COLUMN watch_claimed_by {_T};
    ALTER TABLE tasks ADD COLUMN watch_lease_until {_T};
    CREATE INDEX tasks_watch ON tasks (watch_next_at) WHERE watch_next_at IS NOT NULL;
    CREATE TABLE preferences (
        slack_user_id {_T} PRIMARY KEY,
        notify_assigned integer NOT NULL DEFAULT 1,
        updated_at {_T}
    );
    """,
    # 3 (SQLite's 7): jobs done once across the fleet; and MaxCare's budget shared by every
    # instance: one row per request, from its grant until its answer has left the window.
    # Unlogged: the grants only matter for a minute, so they are not worth the WAL (a server
    # crash empties the table, and the instances' own limiters still hold each to the budget).
    # Times are the server's clock, the one clock all instances share.
    f"""
    CREATE TABLE jobs (
        name {_T} PRIMARY KEY,
        last_run_at {_T},
        ran_by {_T}
    );
    CREATE UNLOGGED TABLE maxcare_grants (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        granted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        done_at timestamptz
    );
    CREATE FUNCTION maxcare_take(budget integer, window_s double precision,
                                 stale_s double precision)
    RETURNS TABLE (grant_id bigint, wait_s double precision)
    LANGUAGE plpgsql AS $$
    DECLARE
        now_ts timestamptz;
        used integer;
        frees timestamptz;
    BEGIN
        -- One decision at a time: count and insert must not interleave between instances.
        PERFORM pg_advisory_xact_lock({BUDGET_LOCK});
        now_ts := clock_timestamp();
        -- Answers that left the window, and grants whose process never told their answer
        -- (killed mid-request) once even their latest possible arrival has left it.
        DELETE FROM maxcare_grants g
        WHERE g.done_at <= now_ts - make_interval(secs => window_s)
           OR (g.done_at IS NULL AND g.granted_at <= now_ts - make_interval(secs => stale_s));
        SELECT count(*) INTO used FROM maxcare_grants;
        IF used < budget THEN
            INSERT INTO maxcare_grants DEFAULT VALUES RETURNING id INTO grant_id;
            wait_s := 0;
            RETURN NEXT;
            RETURN;
        END IF;
        -- Full: the slot frees when the (used - budget + 1)-th oldest answer leaves the window.
        SELECT g.done_at INTO frees FROM maxcare_grants g WHERE g.done_at IS NOT NULL
        ORDER BY g.done_at OFFSET used - budget LIMIT 1;
        grant_id := NULL;
        IF frees IS NULL THEN
            wait_s := least(window_s, 0.05);  -- only answers in flight: look again soon
        ELSE
            wait_s := greatest(
                extract(epoch FROM frees + make_interval(secs => window_s) - now_ts), 0.001);
        END IF;
        RETURN NEXT;
    END
    $$;
    """,
    # 4 (SQLite's 8): Slack installations, their tokens encrypted, each connected to its MaxCare
    # organization; and the OAuth states of installs in progress.
    f"""
    CREATE TABLE installations (
        key {_T} PRIMARY KEY,
        team_id {_T},
        enterprise_id {_T},
        is_enterprise_install integer NOT NULL DEFAULT 0,
        team_name {_T},
        enterprise_name {_T},
        app_id {_T},
        bot_user_id {_T},
        bot_id {_T},
        bot_token_enc {_T},
        bot_refresh_token_enc {_T},
        bot_token_expires_at {_T},
        bot_scopes {_T},
        installer_user_id {_T},
        installed_at {_T},
        updated_at {_T},
        organization_id {_T},
        state {_T} NOT NULL DEFAULT 'active',
        uninstalled_at {_T}
    );
    CREATE TABLE oauth_states (
        state {_T} PRIMARY KEY,
        expires_at {_T}
    );
    CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
    """,
    # 5 (SQLite's 9): each workspace's own rows, keyed by its installation ('' for one
    # workspace); a person is linked, and chooses, once per workspace.
    f"""
    ALTER TABLE links ADD COLUMN workspace {_T} NOT NULL DEFAULT '';
    ALTER TABLE links DROP CONSTRAINT links_pkey;
    ALTER TABLE links ADD PRIMARY KEY (workspace, slack_user_id);
    ALTER TABLE link_events ADD COLUMN workspace {_T} NOT NULL DEFAULT '';
    ALTER TABLE submissions ADD COLUMN workspace {_T} NOT NULL DEFAULT '';
    ALTER TABLE tasks ADD COLUMN workspace {_T} NOT NULL DEFAULT '';
    CREATE INDEX tasks_workspace_created_by ON tasks (workspace, created_by, created_at);
    ALTER TABLE preferences ADD COLUMN workspace {_T} NOT NULL DEFAULT '';
    ALTER TABLE preferences DROP CONSTRAINT preferences_pkey;
    ALTER TABLE preferences ADD PRIMARY KEY (workspace, slack_user_id);
    """,
]


def migrate(conn: psycopg.Connection[Any], upto: int | None = None) -> int:
    """Apply the migrations this database lacks (up to `upto`); returns its version after.

    One transaction under an advisory lock: of several processes starting at once on a new
    database, one migrates and the others wait, then find nothing left to do. The lock is a
    transaction's, so a process killed mid-migration leaves neither the lock nor half a schema.
    """
    target = len(MIGRATIONS) if upto is None else upto
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        for number in range(version + 1, target + 1):
            conn.execute(MIGRATIONS[number - 1])  # several statements, so no parameters
            conn.execute("UPDATE schema_version SET version = %s", [number])
            version = number
    return version


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The database's version (0 before the first migration)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0
