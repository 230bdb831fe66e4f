-- A version an administrator saves is a draft until activated; drafts are never in the catalog
-- residents and reviewers see. Versions stored before this (the reference catalog) are in force.
ALTER TABLE service_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('draft', 'active'));
ALTER TABLE service_versions ADD COLUMN activated_at TEXT;
