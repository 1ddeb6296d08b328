-- The gateway that heard a tag strongest for each fix (see the PostgreSQL migration of the
-- same number).

ALTER TABLE positions ADD COLUMN gateway TEXT;
ALTER TABLE current_location ADD COLUMN gateway TEXT;
