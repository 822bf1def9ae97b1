-- Receipts (issue 7): intake, Merkle batches (ours and others'), paid requests. Keep in step with migrations/postgres.
CREATE TABLE receipts (
    request_id BLOB PRIMARY KEY,
    signed BLOB NOT NULL,
    leaf BLOB NOT NULL,
    node BLOB NOT NULL,
    model BLOB NOT NULL,
    signed_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    state SMALLINT NOT NULL,
    batch_id BIGINT,
    note SMALLINT
);
CREATE INDEX receipts_state ON receipts (state, received_at);

CREATE TABLE receipt_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root BLOB NOT NULL,
    ours SMALLINT NOT NULL,
    leaf_count BIGINT NOT NULL,
    status SMALLINT NOT NULL,
    chain_batch BIGINT UNIQUE,
    submitter BLOB,
    anchored_at BIGINT,
    data_uri TEXT,
    checked SMALLINT NOT NULL DEFAULT 0,
    challenge BLOB,
    void_reason SMALLINT,
    void_request BLOB,
    created_at BIGINT NOT NULL
);
CREATE INDEX receipt_batches_root ON receipt_batches (root);
CREATE INDEX receipt_batches_status ON receipt_batches (status, ours);

CREATE TABLE batch_leaves (
    batch_id BIGINT NOT NULL REFERENCES receipt_batches (id),
    leaf BLOB NOT NULL,
    request_id BLOB NOT NULL,
    signed BLOB NOT NULL,
    PRIMARY KEY (batch_id, leaf)
);
CREATE INDEX batch_leaves_request ON batch_leaves (request_id);

CREATE TABLE paid_requests (
    request_id BLOB PRIMARY KEY,
    status SMALLINT NOT NULL,
    deadline BIGINT NOT NULL,
    proven_at BIGINT
);
CREATE INDEX paid_requests_status ON paid_requests (status);
