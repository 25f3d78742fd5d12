-- The durable job queue. A job is claimed by leasing it (lease_owner, lease_expires_at) and
-- every claim bumps lease_count, the fencing token a completion must present.

CREATE TABLE jobs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id      TEXT NOT NULL,
    kind              TEXT NOT NULL,
    queue             TEXT NOT NULL,
    payload           JSONB NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('available', 'scheduled', 'running', 'awaiting',
                                                     'completed', 'retryable', 'discarded', 'cancelled')),
    priority          INTEGER NOT NULL DEFAULT 0,
    attempt           INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_at            TIMESTAMPTZ NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  TIMESTAMPTZ,
    lease_count       BIGINT NOT NULL DEFAULT 0,
    unique_key        TEXT,
    errors            JSONB NOT NULL DEFAULT '[]',
    approval_id       BIGINT,
    resume            JSONB,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ
);

-- A second enqueue with the same key is a no-op for as long as the first job exists.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (workspace_id, unique_key) WHERE unique_key IS NOT NULL;
-- What workers claim: runnable jobs of a queue by priority and time.
CREATE INDEX jobs_claimable ON jobs (queue, priority, run_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_awaiting_approval ON jobs (approval_id) WHERE state = 'awaiting';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'discarded', 'cancelled');
CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE state = 'pending';

-- Rows written by diagnostics.probe jobs: one per job, ever (the unique constraint is the
-- proof that a job's effect happened exactly once).
CREATE TABLE job_probes (
    workspace_id  TEXT NOT NULL,
    job_id        BIGINT NOT NULL,
    worker        TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT job_probes_once UNIQUE (job_id)
);
