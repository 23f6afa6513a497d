-- Encryption at rest per case and retention. A case's data key is stored wrapped by the hub's storage
-- key (kept outside the database); messages' signed forms and raw e-mails of the case are stored
-- encrypted with it (form_encrypted / raw_encrypted). A purge deletes them and destroys the case key.
-- What statistics need and is not personal (a referral's category) is kept in a column of its own.
CREATE TABLE case_keys (
    case_id      uuid PRIMARY KEY REFERENCES cases (id),
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL,
    shredded_at  timestamptz,
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);

ALTER TABLE messages ALTER COLUMN signed_form DROP NOT NULL;
ALTER TABLE messages
    ADD COLUMN form_encrypted boolean NOT NULL DEFAULT false,
    ADD COLUMN category       text;

ALTER TABLE inbound_mail ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE inbound_mail ADD COLUMN raw_encrypted boolean NOT NULL DEFAULT false;

ALTER TABLE cases ADD COLUMN purged_at timestamptz;
CREATE INDEX cases_purge_candidates_idx ON cases (opened_at) WHERE purged_at IS NULL;

CREATE TABLE purges (
    id          bigserial PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id),
    purged_at   timestamptz NOT NULL,
    final_at    timestamptz NOT NULL,
    retention   interval NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
