-- name: record_rows
-- A batch's deferred rows in one statement (hub_record_rows, migration 0021; $1: JSON, see deferred_writes).
SELECT hub_record_rows($1::text::jsonb);
