-- Nothing kept in the clear may rebuild a resident ID (security issue #8): the masked copy used to
-- keep the first 6 and last 4 characters, and the full birth date next to it filled in the 8
-- between. Now only the year of birth is kept (statistics, age bands; rules take the exact date
-- from the decrypted number) and masks keep the first 3 and last 4 characters of the ID.
-- The default only fills existing rows before the update below; every write states the year.
ALTER TABLE persons ADD COLUMN birth_year BIGINT NOT NULL DEFAULT 0;
UPDATE persons SET birth_year = CAST(substr(birth_date, 1, 4) AS BIGINT);
ALTER TABLE persons DROP COLUMN birth_date;

-- Old masks: `510112********123X` (persons) and the same plus `**` (certificates).
UPDATE persons SET rid_masked = substr(rid_masked, 1, 3) || '***********' || substr(rid_masked, 15);
UPDATE certificates
SET number_masked = substr(number_masked, 1, 3) || '***********' || substr(number_masked, 15);
