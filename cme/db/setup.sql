-- Schemas and grants for least privilege (DESIGN.md non-negotiable 6).
-- Run by `cme db setup` as the administrative role; idempotent. Roles are
-- created beforehand, with their passwords, by cme/db/setup.py.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM cme_caseworker, cme_auditor, cme_keystore, cme_keyreader,
    cme_retention, cme_projector, cme_ledger;

CREATE SCHEMA IF NOT EXISTS eventstore;
CREATE SCHEMA IF NOT EXISTS matching;
CREATE SCHEMA IF NOT EXISTS keystore;
CREATE SCHEMA IF NOT EXISTS caseworker;
CREATE SCHEMA IF NOT EXISTS ledger;

REVOKE ALL ON SCHEMA eventstore, matching, keystore, caseworker, ledger FROM PUBLIC;

-- The event store: the writer creates the library's tables and appends to them;
-- auditors read every table the writer makes there.
GRANT USAGE ON SCHEMA eventstore TO cme_writer;
REVOKE CREATE ON SCHEMA eventstore FROM cme_writer;
GRANT USAGE ON SCHEMA eventstore TO cme_auditor;
ALTER DEFAULT PRIVILEGES FOR ROLE cme_writer IN SCHEMA eventstore
    GRANT SELECT ON TABLES TO cme_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA eventstore TO cme_auditor;

-- Raised by the triggers that keep the event store and the ledger append-only.
CREATE OR REPLACE FUNCTION eventstore.reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Whose event a stored event is, read from its clear part (the child's id is
-- never personal data; the mapper writes the state as JSON). Indexed on each
-- aggregate's first event by cme/db/setup.py, so a subject access request
-- finds a child's cases, disclosures and requests without scanning the log.
CREATE OR REPLACE FUNCTION eventstore.subject_of(state bytea) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (convert_from(state, 'UTF8')::jsonb #>> '{child_id,_data_}')::uuid
$$;

-- The blind index that lets intake match a child without decrypting.
GRANT USAGE ON SCHEMA matching TO cme_writer;
CREATE TABLE IF NOT EXISTS matching.blind_index (
    child_id   uuid        NOT NULL,
    kind       text        NOT NULL,
    digest     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, digest, child_id)
);
CREATE INDEX IF NOT EXISTS blind_index_child ON matching.blind_index (child_id);
ALTER TABLE matching.blind_index OWNER TO cme_writer;

-- The key store: wrapped data keys and the tombstones of destroyed ones.
-- expires_on is the retention date (the child's 25th birthday), never the
-- date of birth itself. The admin owns the tables; each key role may do only
-- its part (below), and only the retention job's role destroys a key.
GRANT USAGE ON SCHEMA keystore TO cme_keystore, cme_keyreader, cme_retention;
CREATE TABLE IF NOT EXISTS keystore.data_keys (
    child_id    uuid        PRIMARY KEY,
    kek_id      text        NOT NULL,
    wrapped_key bytea       NOT NULL,
    expires_on  date,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS data_keys_expiry ON keystore.data_keys (expires_on);
CREATE TABLE IF NOT EXISTS keystore.destroyed_keys (
    child_id     uuid        PRIMARY KEY,
    destroyed_at timestamptz NOT NULL,
    reason       text        NOT NULL
);
ALTER TABLE keystore.data_keys OWNER TO CURRENT_USER;
ALTER TABLE keystore.destroyed_keys OWNER TO CURRENT_USER;
REVOKE ALL ON keystore.data_keys, keystore.destroyed_keys
    FROM PUBLIC, cme_keystore, cme_keyreader, cme_retention;
-- The application: reads keys, adds one (a quarantine month's; intake's come in
-- with the writer), re-wraps them under a new KEK. It destroys none.
GRANT SELECT, INSERT, UPDATE ON keystore.data_keys TO cme_keystore;
GRANT SELECT ON keystore.destroyed_keys TO cme_keystore;
-- Readers (the projector, auditors' replays, shredding certificates): read only.
GRANT SELECT ON keystore.data_keys, keystore.destroyed_keys TO cme_keyreader;
-- The retention job alone destroys: deletes the key, writes its tombstone,
-- marks the cascade complete.
GRANT SELECT, DELETE ON keystore.data_keys TO cme_retention;
GRANT SELECT, INSERT, UPDATE ON keystore.destroyed_keys TO cme_retention;
-- The writer inserts a new child's wrapped key and sets a key's expiry (after a
-- rectified date of birth) in the transaction of the events that need them; it
-- reads no key material and no expiry, and destroys nothing.
GRANT USAGE ON SCHEMA keystore TO cme_writer;
GRANT INSERT ON keystore.data_keys TO cme_writer;
GRANT SELECT (child_id), UPDATE (expires_on) ON keystore.data_keys TO cme_writer;
-- When the rest of the shred cascade (index rows, the shredded event) finished.
ALTER TABLE keystore.destroyed_keys ADD COLUMN IF NOT EXISTS cascade_completed_at timestamptz;

-- Caseworker read models: the projector writes, caseworker tools read.
GRANT USAGE, CREATE ON SCHEMA caseworker TO cme_projector;
GRANT USAGE ON SCHEMA caseworker TO cme_caseworker;
ALTER DEFAULT PRIVILEGES FOR ROLE cme_projector IN SCHEMA caseworker
    GRANT SELECT ON TABLES TO cme_caseworker;
GRANT SELECT ON ALL TABLES IN SCHEMA caseworker TO cme_caseworker;

-- The disclosure ledger: the ledger writer appends, auditors read. The tables
-- are the admin's: the writer creates nothing (it once could create tables here).
GRANT USAGE ON SCHEMA ledger TO cme_ledger;
REVOKE CREATE ON SCHEMA ledger FROM cme_ledger;
GRANT USAGE ON SCHEMA ledger TO cme_auditor;
ALTER DEFAULT PRIVILEGES FOR ROLE cme_ledger IN SCHEMA ledger
    GRANT SELECT ON TABLES TO cme_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA ledger TO cme_auditor;

-- The disclosure ledger: append-only, hash-chained, with signed checkpoints.
-- Only cme_ledger appends; auditors read; nobody may change or remove a row.
CREATE OR REPLACE FUNCTION ledger.reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TABLE IF NOT EXISTS ledger.entries (
    seq             bigint      PRIMARY KEY,
    notification_id bigint      NOT NULL UNIQUE,
    entry           bytea       NOT NULL,
    prev_hash       text        NOT NULL,
    entry_hash      text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ledger.checkpoints (
    seq        bigint      PRIMARY KEY,
    head_hash  text        NOT NULL,
    key_id     text        NOT NULL,
    signature  bytea       NOT NULL,
    signed_at  timestamptz NOT NULL DEFAULT now()
);
-- Each checkpoint also signs the link to the one before it (v2), so deleting a
-- checkpoint breaks the chain of signatures; v1 checkpoints (before this) have none.
ALTER TABLE ledger.checkpoints ADD COLUMN IF NOT EXISTS prev_link text;
-- And the RFC 9162 Merkle root of the entries it signs (v3): an entry's inclusion
-- can then be shown with about log2(n) hashes, not the entries after it.
ALTER TABLE ledger.checkpoints ADD COLUMN IF NOT EXISTS tree_root text;
-- The writer numbers entries from 1: a row at 0 or below was put there by hand.
ALTER TABLE ledger.entries DROP CONSTRAINT IF EXISTS entries_numbered_from_one;
ALTER TABLE ledger.entries ADD CONSTRAINT entries_numbered_from_one CHECK (seq >= 1);
-- Where the ledger writer has read the event store up to (same transaction as entries).
CREATE TABLE IF NOT EXISTS ledger.position (
    consumer text PRIMARY KEY,
    position bigint NOT NULL
);
DROP TRIGGER IF EXISTS entries_append_only ON ledger.entries;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
DROP TRIGGER IF EXISTS entries_not_truncated ON ledger.entries;
CREATE TRIGGER entries_not_truncated BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();
DROP TRIGGER IF EXISTS checkpoints_append_only ON ledger.checkpoints;
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger.checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger.reject_change();
DROP TRIGGER IF EXISTS checkpoints_not_truncated ON ledger.checkpoints;
CREATE TRIGGER checkpoints_not_truncated BEFORE TRUNCATE ON ledger.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.reject_change();
REVOKE ALL ON ledger.entries, ledger.checkpoints, ledger.position FROM PUBLIC;
GRANT SELECT, INSERT ON ledger.entries, ledger.checkpoints TO cme_ledger;
GRANT SELECT, INSERT, UPDATE ON ledger.position TO cme_ledger;
GRANT SELECT ON ledger.entries, ledger.checkpoints, ledger.position TO cme_auditor;
-- Events the writer could not turn into an entry, and why; the chain goes on
-- without them until a fix and `cme audit replay-parked` append them.
CREATE TABLE IF NOT EXISTS ledger.parked (
    notification_id bigint      PRIMARY KEY,
    topic           text        NOT NULL,
    reason          text        NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now()
);
-- Where a parked event's entry was appended when it was replayed: the one place the
-- ledger leaves the log's order, which a verifier must be able to tell from a swap.
ALTER TABLE ledger.parked ADD COLUMN IF NOT EXISTS appended_seq bigint;
REVOKE ALL ON ledger.parked FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.parked TO cme_ledger;
GRANT SELECT ON ledger.parked TO cme_auditor;
-- The ledger writer reads the event store's notification log (in order).
GRANT USAGE ON SCHEMA eventstore TO cme_ledger;
