-- Conversation → tickets (issue 5).

-- A decision about one chat message (or one answer, one undo) is made once: the job that
-- makes it may run again after a crash, and finds its earlier decision by `source`.
ALTER TABLE decisions ADD COLUMN source TEXT;
CREATE UNIQUE INDEX decisions_source ON decisions (workspace_id, source) WHERE source IS NOT NULL;
CREATE INDEX decisions_kind ON decisions (workspace_id, kind, created_at);

-- A ticket created from a chat message is created once (source_tracker 'chat').
CREATE UNIQUE INDEX tickets_external ON tickets (workspace_id, source_tracker, external_id)
    WHERE external_id IS NOT NULL;

-- Language-model use per day, against the daily token budget.
CREATE TABLE llm_usage (
    workspace_id  TEXT NOT NULL,
    day           TEXT NOT NULL,
    tokens        BIGINT NOT NULL DEFAULT 0,
    calls         BIGINT NOT NULL DEFAULT 0,
    failures      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day)
);
