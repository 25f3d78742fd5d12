-- Issue 11: the AI queue. A fix run takes a ticket through a SPEC gate, a sandboxed coding
-- agent, QA gates and a PR gate. The run's state is a column (at most one active run per
-- ticket, enforced here); what its steps produced (the SPEC, the allowlist, the branch, QA
-- results, the pull request) is kept in `data`.
CREATE TABLE fix_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    ticket_key    TEXT NOT NULL,
    project       TEXT NOT NULL,
    state         TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE UNIQUE INDEX fix_runs_one_active ON fix_runs (workspace_id, ticket_key)
    WHERE state NOT IN ('COMPLETED', 'SPEC_REJECTED', 'QA_FAILED', 'ERROR', 'CANCELLED');
CREATE INDEX fix_runs_created ON fix_runs (workspace_id, created_at);

-- Every change of state: from, to, who or what, when, why; posted_at once said in the thread.
CREATE TABLE fix_transitions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES fix_runs (id),
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    at            TEXT NOT NULL,
    posted_at     TEXT
);
CREATE INDEX fix_transitions_run ON fix_transitions (run_id, id);

-- The kill switch: while paused, no fix step starts and running agents are stopped.
CREATE TABLE fix_controls (
    workspace_id  TEXT PRIMARY KEY,
    paused        BOOLEAN NOT NULL DEFAULT 0,
    changed_by    TEXT NOT NULL,
    changed_at    TEXT NOT NULL
);

-- Who may not decide an approval although their role could (the SPEC's approver at the PR
-- gate, when approvers must be distinct).
ALTER TABLE approvals ADD COLUMN approver_except TEXT NOT NULL DEFAULT '[]';
