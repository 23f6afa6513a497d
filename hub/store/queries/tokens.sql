-- name: consume_token
-- $3 is when the used jti may be forgotten: the token's exp plus the clock leeway, the first instant at
-- which the token is refused as expired anyway (TokenClaims.remember_until), never its bare exp.
INSERT INTO used_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (issuer, jti) DO NOTHING
RETURNING jti;

-- name: consume_tokens
-- Several requests' jtis at once ($1 issuers, $2 jtis, $3 remember-until, in step): the pairs returned
-- were not used before. A pair twice in the arrays is inserted once (DO NOTHING skips the second).
INSERT INTO used_tokens (issuer, jti, expires_at)
SELECT u.issuer, u.jti, u.expires_at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(issuer, jti, expires_at)
ON CONFLICT (issuer, jti) DO NOTHING
RETURNING issuer, jti;

-- name: purge_tokens
DELETE FROM used_tokens WHERE expires_at < $1;
