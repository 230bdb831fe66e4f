-- The review workflow around a case (SQLite; the same SQL subset as migrations/postgres):
-- claims, escalation, the award a final approval states, the public notice's objections,
-- the applicant's rating, and the tasks that follow a decision.

ALTER TABLE cases ADD COLUMN claimed_by TEXT;
ALTER TABLE cases ADD COLUMN claimed_at TEXT;
ALTER TABLE cases ADD COLUMN escalated_at TEXT;
-- JSON of the services crate's `Award` (amount granted, assessed category and grade).
ALTER TABLE cases ADD COLUMN award TEXT;
-- The step a case waits at (submitted or in review there), NULL otherwise: the reviewers'
-- queues read one index range in deadline order instead of merging two states.
ALTER TABLE cases ADD COLUMN queue_step TEXT;
UPDATE cases SET queue_step = step_code WHERE state IN ('submitted', 'in_review');
DROP INDEX cases_queue_district;
DROP INDEX cases_queue_street;
DROP INDEX cases_queue_community;
CREATE INDEX cases_queue_district ON cases(queue_step, district_code, deadline, submitted_at, id);
CREATE INDEX cases_queue_street ON cases(queue_step, street_code, deadline, submitted_at, id);
CREATE INDEX cases_queue_community ON cases(queue_step, community_code, deadline, submitted_at, id);
CREATE INDEX cases_notice ON cases(state, deadline);

ALTER TABLE entitlements ADD COLUMN period TEXT NOT NULL DEFAULT 'month';
ALTER TABLE entitlements ADD COLUMN stopped_month TEXT;

-- Objections raised during a case's public notice (公示), and what was decided on them.
CREATE TABLE case_objections (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases(id),
    division_code  TEXT NOT NULL,
    at             TEXT NOT NULL,
    raised_by      TEXT NOT NULL,
    contact        TEXT,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'dismissed')),
    decided_by     TEXT,
    decided_at     TEXT,
    decision       TEXT
);
CREATE INDEX case_objections_case ON case_objections(case_id, at);

-- 好差评: one rating per finished case.
CREATE TABLE case_ratings (
    case_id        TEXT PRIMARY KEY REFERENCES cases(id),
    division_code  TEXT NOT NULL,
    score          BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment        TEXT,
    rated_by       TEXT NOT NULL,
    at             TEXT NOT NULL
);

-- Work a decision leaves for an office: deliver (fulfilment), answer a poor rating
-- (follow_up), or deal with an overdue case (escalation, for the step's supervisor).
CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('fulfilment', 'follow_up', 'escalation')),
    case_id         TEXT NOT NULL REFERENCES cases(id),
    person_id       TEXT NOT NULL REFERENCES persons(id),
    district_code   TEXT NOT NULL,
    street_code     TEXT,
    community_code  TEXT,
    division_code   TEXT NOT NULL,
    assignee_role   TEXT NOT NULL,
    detail          TEXT,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    done_at         TEXT,
    done_by         TEXT,
    note            TEXT
);
CREATE INDEX tasks_open ON tasks(status, assignee_role, district_code, created_at);
CREATE INDEX tasks_case ON tasks(case_id);

-- Documents are fingerprinted with SM3 like the rest of the platform.
ALTER TABLE case_documents RENAME COLUMN sha256 TO digest;
