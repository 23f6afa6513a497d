-- name: consume_token
-- $3 is when the used jti may be forgotten: the token's exp plus the clock leeway, the first instant at
-- which the token is refused as expired anyway (TokenClaims.remember_until), never its bare exp.
INSERT INTO used_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (issuer, jti) DO NOTHING
RETURNING jti;

-- name: purge_tokens
DELETE FROM used_tokens WHERE expires_at < $1;
