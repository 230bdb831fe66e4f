-- Messages to residents: an in-app copy for the portal inbox and text messages to the person's
-- and their guardians' phones, each tied to the person (and the case it is about) so the inbox
-- is one indexed lookup and the table can be distributed by division like the others.
ALTER TABLE notifications ADD COLUMN person_id TEXT REFERENCES persons(id);
ALTER TABLE notifications ADD COLUMN case_id TEXT REFERENCES cases(id);
ALTER TABLE notifications ADD COLUMN division_code TEXT;
-- The text in English; `body` holds the Chinese text, which text messages carry.
ALTER TABLE notifications ADD COLUMN body_en TEXT;
-- A failed delivery waits until then (exponential backoff); a sender also pushes it forward
-- while it is sending, so two server instances do not send the same message at once.
ALTER TABLE notifications ADD COLUMN next_attempt_at TEXT;
-- When the resident opened an in-app message.
ALTER TABLE notifications ADD COLUMN read_at TEXT;
UPDATE notifications SET next_attempt_at = created_at WHERE status = 'pending';
CREATE INDEX notifications_inbox ON notifications(person_id, channel, created_at);
CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
