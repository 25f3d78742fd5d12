-- The PM agents (issue 6): time worked, forecasts, and what each agent has sent.

-- Hours worked, imported from CSV (later filled by the time-tracking sync).
CREATE TABLE worklogs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    person        TEXT NOT NULL,
    day           TEXT NOT NULL,          -- YYYY-MM-DD, the person's own date
    hours         REAL NOT NULL,
    project       TEXT NOT NULL,
    epic          TEXT,
    ticket        TEXT,
    description   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,          -- 'csv:<file>' or the tracker
    created_at    TEXT NOT NULL
);
CREATE INDEX worklogs_day ON worklogs (workspace_id, day);
CREATE INDEX worklogs_project ON worklogs (workspace_id, project, day);

-- Forecast hours per epic of a scope project.
CREATE TABLE forecasts (
    workspace_id  TEXT NOT NULL,
    project       TEXT NOT NULL,
    epic          TEXT NOT NULL,
    hours         REAL NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, project, epic)
);

-- Every message an agent sent, once per key (e.g. compliance:2026-11-16:ana): running an
-- agent twice for the same period sends nothing the second time.
CREATE TABLE agent_sends (
    workspace_id  TEXT NOT NULL,
    agent         TEXT NOT NULL,
    key           TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    body          TEXT NOT NULL,
    sent_at       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- Files the agents made (the month-end workbook), kept so they can be fetched again.
CREATE TABLE reports (
    workspace_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
