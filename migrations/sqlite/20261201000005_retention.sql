-- Issue 10: worklog imports are idempotent. A row's identity is person, day, project, epic,
-- ticket, description and its occurrence among identical rows of one import (the second of
-- two identical entries is another entry); re-importing the same file finds every row.
-- Rows imported before this migration keep an identity of their own.
ALTER TABLE worklogs ADD COLUMN identity TEXT;
UPDATE worklogs SET identity = 'row:' || id;
CREATE UNIQUE INDEX worklogs_identity ON worklogs (workspace_id, identity);

-- Pruning by age (the retention job) reads these.
CREATE INDEX chat_messages_created ON chat_messages (created_at);
CREATE INDEX decisions_created ON decisions (created_at);
CREATE INDEX agent_sends_sent ON agent_sends (sent_at);

-- Whether a message was said in a private channel or a DM: its words are never quoted into
-- a public channel or a ticket (a link is given instead).
ALTER TABLE chat_messages ADD COLUMN private BOOLEAN NOT NULL DEFAULT 0;
