-- Foundation schema (SQLite). Kept to the SQL subset shared with migrations/postgres:
-- TEXT timestamps (RFC 3339, UTC), TEXT UUIDv7 keys, BIGINT numbers and 0/1 flags (one Rust type,
-- i64, on both backends), BLOB for ciphertexts and blind indexes.

CREATE TABLE divisions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent      TEXT REFERENCES divisions(code)
);
CREATE INDEX divisions_parent ON divisions(parent);

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    scope          TEXT NOT NULL REFERENCES divisions(code),
    active         BIGINT NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

CREATE TABLE persons (
    id                  TEXT PRIMARY KEY,
    rid_enc             BLOB NOT NULL,
    rid_index           BLOB NOT NULL UNIQUE,
    rid_masked          TEXT NOT NULL,
    name                TEXT NOT NULL,
    sex                 TEXT NOT NULL,
    birth_date          TEXT NOT NULL,
    ethnicity           TEXT,
    phone_enc           BLOB,
    phone_index         BLOB,
    phone_masked        TEXT,
    district_code       TEXT NOT NULL,
    street_code         TEXT,
    community_code      TEXT,
    division_code       TEXT NOT NULL,
    residence_code      TEXT,
    address             TEXT,
    household_status    TEXT NOT NULL DEFAULT 'none',
    life_status         TEXT NOT NULL DEFAULT 'alive',
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX persons_district ON persons(district_code, name);
CREATE INDEX persons_street ON persons(street_code, name);
CREATE INDEX persons_community ON persons(community_code, name);
CREATE INDEX persons_phone ON persons(phone_index);

CREATE TABLE certificates (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES persons(id),
    number_enc    BLOB NOT NULL,
    number_index  BLOB NOT NULL UNIQUE,
    number_masked TEXT NOT NULL,
    category      BIGINT NOT NULL,
    components    TEXT,
    grade         BIGINT NOT NULL,
    replacement   BIGINT NOT NULL DEFAULT 0,
    issued_on     TEXT,
    expires_on    TEXT,
    status        TEXT NOT NULL DEFAULT 'valid',
    is_current    BIGINT NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX certificates_person ON certificates(person_id, is_current);

CREATE TABLE guardians (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES persons(id),
    name          TEXT NOT NULL,
    relation      TEXT NOT NULL,
    phone_enc     BLOB,
    phone_index   BLOB,
    phone_masked  TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX guardians_person ON guardians(person_id);
CREATE INDEX guardians_phone ON guardians(phone_index);

CREATE TABLE consents (
    id           TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES persons(id),
    purpose      TEXT NOT NULL,
    granted_by   TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    granted_at   TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE INDEX consents_person ON consents(person_id);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    account_id   TEXT REFERENCES accounts(id),
    phone_index  BLOB,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE login_attempts (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    client      TEXT NOT NULL,
    success     BIGINT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX login_attempts_subject ON login_attempts(subject, at);
CREATE INDEX login_attempts_client ON login_attempts(client, at);

CREATE TABLE one_time_codes (
    id           TEXT PRIMARY KEY,
    phone_index  BLOB NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    used         BIGINT NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX one_time_codes_phone ON one_time_codes(phone_index, created_at);

CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    recipient_enc BLOB,
    body          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE INDEX notifications_status ON notifications(status, created_at);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Append-only, hash-chained (SM3) audit trail: no code path updates or deletes it, and the
-- database refuses to as well.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    action         TEXT NOT NULL,
    entity         TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    division_code  TEXT,
    before_json    TEXT,
    after_json     TEXT,
    client         TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
