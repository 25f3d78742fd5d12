-- Issue 12 (GitHub): pull requests and issues linked to tickets. A pull request naming
-- two tickets is two rows; an issue that became a ticket is one.
CREATE TABLE github_links (
    workspace_id  TEXT NOT NULL,
    repo          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    number        INTEGER NOT NULL,
    ticket_key    TEXT NOT NULL,
    title         TEXT NOT NULL,
    url           TEXT NOT NULL,
    author        TEXT NOT NULL,
    state         TEXT NOT NULL,
    draft         BOOLEAN NOT NULL,
    review        TEXT,
    opened_at     TEXT NOT NULL,
    review_at     TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, repo, kind, number, ticket_key)
);
CREATE INDEX github_links_ticket ON github_links (workspace_id, ticket_key);
