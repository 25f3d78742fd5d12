-- SQLite twin of the PostgreSQL migration of the same name. The foundation: workspaces, the team, the built-in board, chat messages seen,
-- the decision log and approvals. Every table carries workspace_id.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE people (
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    handle            TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('pm', 'lead', 'member')),
    timezone          TEXT NOT NULL,
    slack_id          TEXT,
    discord_id        TEXT,
    tracker_id        TEXT,
    time_tracking_id  TEXT,
    active            INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, handle)
);

CREATE TABLE projects (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    key                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('retainer', 'scope', 'internal')),
    retainer_hours      REAL,
    hourly_rate         REAL,
    channel             TEXT,
    pm                  TEXT,
    active              INTEGER NOT NULL DEFAULT 1,
    next_ticket_number  INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE TABLE tickets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    key           TEXT NOT NULL,
    project_key   TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    priority      TEXT NOT NULL,
    labels        TEXT NOT NULL DEFAULT '[]',
    assignee      TEXT,
    reporter      TEXT,
    epic          TEXT,
    parent_key    TEXT,
    estimate      REAL,
    source_tracker TEXT,
    external_id   TEXT,
    url           TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT tickets_workspace_key UNIQUE (workspace_id, key),
    FOREIGN KEY (workspace_id, project_key) REFERENCES projects (workspace_id, key)
);
CREATE INDEX tickets_workspace_status ON tickets (workspace_id, status);

CREATE TABLE ticket_transitions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    from_status   TEXT,
    to_status     TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT,
    at            TEXT NOT NULL
);
CREATE INDEX ticket_transitions_ticket ON ticket_transitions (ticket_id, at);
CREATE INDEX ticket_transitions_workspace_at ON ticket_transitions (workspace_id, at);

CREATE TABLE comments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author        TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX comments_ticket ON comments (ticket_id, created_at);

CREATE TABLE chat_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    platform      TEXT NOT NULL,
    channel       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    ts            TEXT NOT NULL,
    thread_ts     TEXT,
    text          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT chat_messages_once UNIQUE (workspace_id, platform, channel, ts)
);
CREATE INDEX chat_messages_channel ON chat_messages (workspace_id, channel, created_at);

CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    inputs        TEXT NOT NULL,
    rationale     TEXT NOT NULL,
    confidence    REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    action        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX decisions_subject ON decisions (workspace_id, subject, created_at);

CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id    TEXT NOT NULL,
    subject         TEXT NOT NULL,
    description     TEXT NOT NULL,
    approver_role   TEXT,
    approver_people TEXT NOT NULL DEFAULT '[]',
    required        INTEGER NOT NULL DEFAULT 1 CHECK (required >= 1),
    state           TEXT NOT NULL,
    expires_at      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE approval_decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    approval_id   INTEGER NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    decider       TEXT NOT NULL,
    decision      TEXT NOT NULL,
    comment       TEXT,
    created_at    TEXT NOT NULL,
    CONSTRAINT approval_decisions_once UNIQUE (approval_id, decider)
);
