-- Issue 14 (trackers): pmbot's board as a mirror of a project's real tracker (Linear first).
-- One sync position per project: the updated-since watermark of the last finished run, and
-- where the run under way stands (its own since and the page cursor after the last page it
-- committed), so a crash resumes from the last committed page; a lease keeps two runs apart. A sync paused by refused
-- credentials says why, and with which key, here.
CREATE TABLE tracker_syncs (
    workspace_id   TEXT NOT NULL,
    project_key    TEXT NOT NULL,
    tracker        TEXT NOT NULL,
    since          TIMESTAMPTZ,
    run_since      TIMESTAMPTZ,
    run_started    TIMESTAMPTZ,
    page_cursor    TEXT,
    run_items      BIGINT NOT NULL DEFAULT 0,
    paused         TEXT,
    paused_key     TEXT,
    -- One run at a time per project: the run holding the lease renews it with each page.
    lease_until    TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, project_key)
);

-- What each tracker item became on the board: an issue its ticket, a comment its comment.
-- remote_updated_at is the tracker's own clock for the item, so an older copy (a late
-- webhook, a page read before a newer one) never overwrites a newer one; remote_status is
-- the tracker's status name as last seen (an unmapped one is reported by config check).
CREATE TABLE tracker_items (
    workspace_id       TEXT NOT NULL,
    tracker            TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('issue', 'comment')),
    external_id        TEXT NOT NULL,
    project_key        TEXT NOT NULL,
    local_ref          TEXT NOT NULL,
    remote_updated_at  TIMESTAMPTZ NOT NULL,
    remote_status      TEXT,
    deleted_at         TIMESTAMPTZ,
    PRIMARY KEY (workspace_id, tracker, kind, external_id)
);
CREATE INDEX tracker_items_status ON tracker_items (workspace_id, tracker, remote_status);

-- Ids seen in a tracker's or Tempo's data that map to nobody in pmbot.toml (`pmbot people
-- doctor` lists them): their work is not credited to anyone until a person has the id.
CREATE TABLE unknown_people (
    workspace_id  TEXT NOT NULL,
    source        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    seen          BIGINT NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, source, external_id)
);
