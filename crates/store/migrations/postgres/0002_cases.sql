-- Online applications (PostgreSQL). Kept to the SQL subset shared with migrations/sqlite:
-- TEXT timestamps and dates, TEXT UUIDv7 keys, BIGINT numbers, TEXT JSON. Large tables (cases,
-- case_events, case_documents, entitlements) carry the division code they can be distributed by.

-- A service version as filed under: `definition` is the version in the services crate's draft
-- form (JSON of `ServiceDraft`), so it can be checked again when read; chain, notice and limit
-- are copied out for the state machine.
CREATE TABLE service_versions (
    code            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    effective_from  TEXT NOT NULL,
    name_zh         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    chain           TEXT NOT NULL,
    notice_days     BIGINT NOT NULL,
    limit_days      BIGINT NOT NULL,
    definition      TEXT NOT NULL,
    rule            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

-- Exceptions to Monday-Friday: public holidays and weekend days worked (调休).
CREATE TABLE holidays (
    day   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL CHECK (kind IN ('holiday', 'workday'))
);

-- The last case number issued per district and year.
CREATE TABLE case_counters (
    district_code  TEXT NOT NULL,
    year           BIGINT NOT NULL,
    last           BIGINT NOT NULL,
    PRIMARY KEY (district_code, year)
);

CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    service_code     TEXT NOT NULL,
    service_version  BIGINT NOT NULL,
    person_id        TEXT NOT NULL REFERENCES persons(id),
    district_code    TEXT NOT NULL,
    street_code      TEXT,
    community_code   TEXT,
    division_code    TEXT NOT NULL,
    filed_by         TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('portal', 'counter', 'proxy', 'proactive')),
    state            TEXT NOT NULL,
    step             BIGINT,
    step_code        TEXT,
    deadline         TEXT,
    version          BIGINT NOT NULL DEFAULT 1,
    answers          TEXT NOT NULL,
    submit_key       TEXT UNIQUE,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    submitted_at     TEXT,
    FOREIGN KEY (service_code, service_version) REFERENCES service_versions(code, version)
);
CREATE INDEX cases_queue_district ON cases(state, step_code, district_code, deadline);
CREATE INDEX cases_queue_street ON cases(state, step_code, street_code, deadline);
CREATE INDEX cases_queue_community ON cases(state, step_code, community_code, deadline);
CREATE INDEX cases_person ON cases(person_id, created_at);

CREATE TABLE case_events (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases(id),
    division_code  TEXT NOT NULL,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    action         TEXT NOT NULL,
    from_state     TEXT,
    to_state       TEXT NOT NULL,
    step           BIGINT,
    comment        TEXT
);
CREATE INDEX case_events_case ON case_events(case_id, at);

CREATE TABLE case_documents (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases(id),
    division_code  TEXT NOT NULL,
    name           TEXT NOT NULL,
    mime           TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    content        BYTEA NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX case_documents_case ON case_documents(case_id);

CREATE TABLE entitlements (
    id             TEXT PRIMARY KEY,
    person_id      TEXT NOT NULL REFERENCES persons(id),
    case_id        TEXT REFERENCES cases(id),
    division_code  TEXT NOT NULL,
    service_code   TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    start_month    TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
    reason         TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX entitlements_person ON entitlements(person_id, status);
