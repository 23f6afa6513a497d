-- Issue 14, finding 2: how the origin of each e-mail reply was authenticated (hub.core.mail_auth),
-- kept with it as evidence: {"method", "domain"} for an answer taken (pinned-dkim, dkim, mx-dmarc,
-- mx-dkim), {"fault"} for one that was not. Codes and the platform's domain only, never an address.
ALTER TABLE inbound_mail ADD COLUMN auth jsonb;
