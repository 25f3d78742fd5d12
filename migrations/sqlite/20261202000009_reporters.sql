-- Issue 12 (intake): who reported a ticket from outside the team, and how to reach them
-- again (a feedback form's email, a mailbox's sender, a GitHub issue), so they hear back
-- when it is fixed.
CREATE TABLE reporters (
    workspace_id  TEXT NOT NULL,
    ticket_key    TEXT NOT NULL,
    via           TEXT NOT NULL,
    address       TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    told_at       TEXT,
    PRIMARY KEY (workspace_id, ticket_key, via, address)
);
