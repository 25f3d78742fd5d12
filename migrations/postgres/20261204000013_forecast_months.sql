-- Issue 14: forecasts per epic and month (a forecasts CSV with a month column), for the
-- variance agent's month-to-date and cumulative figures. An epic's total in forecasts is the
-- sum of its months when it has any.
CREATE TABLE forecast_months (
    workspace_id  TEXT NOT NULL,
    project       TEXT NOT NULL,
    epic          TEXT NOT NULL,
    -- YYYY-MM
    month         TEXT NOT NULL,
    hours         DOUBLE PRECISION NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, project, epic, month)
);
