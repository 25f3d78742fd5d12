-- Issue 13 (matching): each ticket's sentence embedding, computed when the ticket's text
-- changes and kept, so that a worker starting up does not embed the whole board again. The
-- fingerprint is of the model and the text the vector was made from; a vector whose
-- fingerprint no longer matches the ticket is made again.
CREATE TABLE ticket_embeddings (
    workspace_id  TEXT NOT NULL,
    ticket_key    TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    -- little-endian f32s
    vector        BYTEA NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, ticket_key)
);
