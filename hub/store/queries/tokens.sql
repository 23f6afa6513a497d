-- name: consume_token
INSERT INTO used_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (issuer, jti) DO NOTHING
RETURNING jti;

-- name: purge_tokens
DELETE FROM used_tokens WHERE expires_at < $1;
