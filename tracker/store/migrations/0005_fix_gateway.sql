-- The gateway that heard a tag strongest for each fix: where a technician starts looking for
-- missing equipment (the missing-equipment report's "last gateway"). Nullable: fixes stored
-- before this migration have none.

ALTER TABLE positions ADD COLUMN gateway text;
ALTER TABLE current_location ADD COLUMN gateway text;
