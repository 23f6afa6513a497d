-- Each participant chooses how it is reached: its adapter (pull, webhook, email, or a plugin's) and
-- that adapter's configuration. Participants with an endpoint were pushed to by webhook.
ALTER TABLE participants
    ADD COLUMN adapter        text NOT NULL DEFAULT 'pull' CHECK (adapter ~ '^[a-z][a-z0-9_-]{1,40}$'),
    ADD COLUMN adapter_config jsonb NOT NULL DEFAULT '{}';
UPDATE participants SET adapter = 'webhook' WHERE endpoint IS NOT NULL;
