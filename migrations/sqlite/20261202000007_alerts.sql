-- Issue 12 (alerts): what pmbot knows of each alert, by Alertmanager's fingerprint: its
-- ticket, whether it is firing, and whether pmbot opened that ticket.
CREATE TABLE alert_links (
    workspace_id     TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    ticket_key       TEXT NOT NULL,
    firing           BOOLEAN NOT NULL,
    opened_by_pmbot  BOOLEAN NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, fingerprint)
);
