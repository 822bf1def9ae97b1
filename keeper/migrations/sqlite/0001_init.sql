-- Keeper schema (SQLite). Keep in step with migrations/postgres.
CREATE TABLE intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key TEXT NOT NULL UNIQUE,
    sender BLOB NOT NULL,
    target BLOB NOT NULL,
    calldata BLOB NOT NULL,
    value BLOB NOT NULL,
    status SMALLINT NOT NULL,
    nonce BIGINT,
    tx_hash BLOB,
    block_number BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX intents_status ON intents (status, id);

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id BIGINT NOT NULL REFERENCES intents (id),
    sender BLOB NOT NULL,
    nonce BIGINT NOT NULL,
    tx_hash BLOB NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    broadcasts BIGINT NOT NULL DEFAULT 0,
    last_broadcast_at BIGINT
);
CREATE INDEX attempts_intent ON attempts (intent_id);
CREATE INDEX attempts_nonce ON attempts (sender, nonce);

CREATE TABLE nonces (
    sender BLOB PRIMARY KEY,
    next_nonce BIGINT NOT NULL
);

CREATE TABLE cursors (
    stream TEXT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash BLOB NOT NULL
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    term BIGINT NOT NULL
);
