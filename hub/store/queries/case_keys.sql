-- name: get_case_key
SELECT wrapped_key FROM case_keys WHERE case_id = $1;

-- name: insert_case_key
INSERT INTO case_keys (case_id, wrapped_key, created_at) VALUES ($1, $2, $3)
ON CONFLICT (case_id) DO NOTHING;
