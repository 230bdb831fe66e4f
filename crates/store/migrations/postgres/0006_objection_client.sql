-- Where an objection to a public notice came from, so one client cannot flood the notice
-- (objections are anonymous; see Store::raise_objection).
ALTER TABLE case_objections ADD COLUMN client TEXT;
CREATE INDEX case_objections_client ON case_objections(client, at);
