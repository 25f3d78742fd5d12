-- Issue 12 (email): each message of the support mailbox's threads (theirs and pmbot's
-- replies) and the ticket it belongs to, so an answer finds its ticket by Message-ID.
CREATE TABLE mail_messages (
    workspace_id  TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    ticket_key    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);
