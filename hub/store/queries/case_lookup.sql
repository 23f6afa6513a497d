-- name: case_ids_with_prefix
-- The operator's look-up of a short case id ($1: a lower-case prefix, hex digits and dashes only, as
-- hub/core/case_reference.py admits): two rows are enough to tell one match from several.
-- Planner: a sequential scan of cases' ids (text comparison); an operator command, run by hand.
SELECT id::text AS case_id FROM cases WHERE id::text LIKE $1 || '%' ORDER BY id LIMIT 2;
