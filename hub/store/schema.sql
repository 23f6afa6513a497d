-- The schema hub/store/migrations/ build, for reading; the migrations stay the only thing applied.
-- Generated; do not edit. After adding or changing a migration, regenerate it with
--   python -m hub.store.snapshot > hub/store/schema.sql
-- (on the server HUB_TEST_DATABASE_URL names, else on an embedded PostgreSQL); a test compares the two.

-- schema version 42

CREATE TABLE audit_checkpoints (
    tree_size bigint NOT NULL,
    root_hash bytea NOT NULL,
    signed_at timestamp with time zone NOT NULL,
    checkpoint text NOT NULL,
    frontier jsonb NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (tree_size)
);

CREATE TABLE audit_entries (
    id bigint DEFAULT nextval('audit_entries_id_seq'::regclass) NOT NULL,
    leaf_index bigint,
    leaf_hash bytea,
    recorded_at timestamp with time zone NOT NULL,
    event text NOT NULL,
    actor text NOT NULL,
    subject text,
    case_id uuid,
    message_id uuid,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (id),
    CONSTRAINT audit_entries_check CHECK (((leaf_index IS NULL) = (leaf_hash IS NULL))),
    CONSTRAINT audit_entries_leaf_index_key UNIQUE (leaf_index)
);
CREATE INDEX audit_entries_case_idx ON public.audit_entries USING btree (case_id, leaf_index);
CREATE INDEX audit_entries_directory_idx ON public.audit_entries USING btree (subject, id) WHERE (event = ANY (ARRAY['participant.added'::text, 'participant.updated'::text, 'participant.reset'::text, 'key.added'::text, 'key.revoked'::text, 'key.bound'::text, 'delivery.bound'::text, 'destination.bound'::text, 'destination.removed'::text]));
CREATE INDEX audit_entries_unsequenced_idx ON public.audit_entries USING btree (id) WHERE (leaf_index IS NULL);

CREATE TABLE audit_tree_nodes (
    level smallint NOT NULL,
    idx bigint NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_tree_nodes_pkey PRIMARY KEY (level, idx),
    CONSTRAINT audit_tree_nodes_hash_check CHECK ((octet_length(hash) = 32)),
    CONSTRAINT audit_tree_nodes_idx_check CHECK ((idx >= 0)),
    CONSTRAINT audit_tree_nodes_level_check CHECK (((level >= 1) AND (level <= 62)))
);

CREATE TABLE bank_contents (
    recipient_id text NOT NULL,
    message_id uuid NOT NULL,
    item integer NOT NULL,
    case_id uuid NOT NULL,
    bank text NOT NULL,
    content_id text NOT NULL,
    banked_at timestamp with time zone NOT NULL,
    removed_at timestamp with time zone,
    remove_due_at timestamp with time zone,
    CONSTRAINT bank_contents_pkey PRIMARY KEY (recipient_id, message_id, item),
    CONSTRAINT bank_contents_bank_check CHECK (((length(bank) >= 1) AND (length(bank) <= 200))),
    CONSTRAINT bank_contents_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT bank_contents_content_id_check CHECK (((length(content_id) >= 1) AND (length(content_id) <= 40))),
    CONSTRAINT bank_contents_item_check CHECK ((item >= 0)),
    CONSTRAINT bank_contents_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT bank_contents_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES participants(id)
);
CREATE INDEX bank_contents_case_idx ON public.bank_contents USING btree (case_id, recipient_id) WHERE (removed_at IS NULL);
CREATE INDEX bank_contents_removal_idx ON public.bank_contents USING btree (remove_due_at) WHERE ((remove_due_at IS NOT NULL) AND (removed_at IS NULL));

CREATE TABLE case_events (
    seq bigint DEFAULT nextval('case_events_seq_seq'::regclass) NOT NULL,
    case_id uuid NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    event text NOT NULL,
    actor text NOT NULL,
    subject text,
    message_id uuid,
    from_state text,
    to_state text,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT case_events_pkey PRIMARY KEY (seq),
    CONSTRAINT case_events_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_events_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id)
);
CREATE INDEX case_events_case_idx ON public.case_events USING btree (case_id, seq);

CREATE TABLE case_keys (
    case_id uuid NOT NULL,
    wrapped_key bytea,
    created_at timestamp with time zone NOT NULL,
    shredded_at timestamp with time zone,
    CONSTRAINT case_keys_pkey PRIMARY KEY (case_id),
    CONSTRAINT case_keys_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_keys_check CHECK (((wrapped_key IS NULL) = (shredded_at IS NOT NULL)))
);

CREATE TABLE case_parties (
    case_id uuid NOT NULL,
    participant_id text NOT NULL,
    role text NOT NULL,
    state text,
    state_changed_at timestamp with time zone,
    added_by text,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    deletion_requested_at timestamp with time zone,
    deletion_confirmed_at timestamp with time zone,
    case_opened_at timestamp with time zone NOT NULL,
    sees_parts text[],
    CONSTRAINT case_parties_pkey PRIMARY KEY (case_id, participant_id),
    CONSTRAINT case_parties_added_by_fkey FOREIGN KEY (added_by) REFERENCES participants(id),
    CONSTRAINT case_parties_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_parties_check CHECK (((role = 'recipient'::text) = (state IS NOT NULL))),
    CONSTRAINT case_parties_participant_id_fkey FOREIGN KEY (participant_id) REFERENCES participants(id),
    CONSTRAINT case_parties_role_check CHECK ((role = ANY (ARRAY['originator'::text, 'recipient'::text, 'shared'::text]))),
    CONSTRAINT case_parties_sees_parts_check CHECK (((role <> 'recipient'::text) OR (sees_parts = ARRAY[participant_id]))),
    CONSTRAINT case_parties_state_check CHECK ((state = ANY (ARRAY['queued'::text, 'retrieved'::text, 'acknowledged'::text, 'actioned'::text, 'declined'::text, 'withdrawn'::text])))
);
CREATE INDEX case_parties_listing_idx ON public.case_parties USING btree (participant_id, case_opened_at DESC, case_id DESC);
CREATE INDEX case_parties_participant_idx ON public.case_parties USING btree (participant_id, case_id);

CREATE TABLE cases (
    id uuid NOT NULL,
    opened_by text NOT NULL,
    case_type text NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    closed_at timestamp with time zone,
    jurisdictions text[] DEFAULT '{}'::text[] NOT NULL,
    closed_by text,
    close_reason text,
    purged_at timestamp with time zone,
    CONSTRAINT cases_pkey PRIMARY KEY (id),
    CONSTRAINT cases_closed_by_fkey FOREIGN KEY (closed_by) REFERENCES participants(id),
    CONSTRAINT cases_opened_by_fkey FOREIGN KEY (opened_by) REFERENCES participants(id)
);
CREATE INDEX cases_listing_idx ON public.cases USING btree (opened_at DESC, id DESC);
CREATE INDEX cases_opened_by_idx ON public.cases USING btree (opened_by, opened_at);
CREATE INDEX cases_purge_candidates_idx ON public.cases USING btree (opened_at) WHERE (purged_at IS NULL);

CREATE TABLE checkpoint_cosignatures (
    tree_size bigint NOT NULL,
    witness_id text NOT NULL,
    cosignature text NOT NULL,
    signed_at timestamp with time zone NOT NULL,
    CONSTRAINT checkpoint_cosignatures_pkey PRIMARY KEY (tree_size, witness_id),
    CONSTRAINT checkpoint_cosignatures_tree_size_fkey FOREIGN KEY (tree_size) REFERENCES audit_checkpoints(tree_size),
    CONSTRAINT checkpoint_cosignatures_witness_id_fkey FOREIGN KEY (witness_id) REFERENCES participants(id)
);

CREATE TABLE clock_reports (
    id bigint DEFAULT nextval('clock_reports_id_seq'::regclass) NOT NULL,
    deadline_id bigint NOT NULL,
    result text NOT NULL,
    at timestamp with time zone NOT NULL,
    answered_by uuid,
    escalation uuid,
    reported_at timestamp with time zone,
    report_id uuid,
    CONSTRAINT clock_reports_pkey PRIMARY KEY (id),
    CONSTRAINT clock_reports_answered_by_fkey FOREIGN KEY (answered_by) REFERENCES messages(id),
    CONSTRAINT clock_reports_check CHECK (((report_id IS NULL) OR (reported_at IS NOT NULL))),
    CONSTRAINT clock_reports_deadline_id_fkey FOREIGN KEY (deadline_id) REFERENCES deadlines(id),
    CONSTRAINT clock_reports_deadline_id_result_key UNIQUE (deadline_id, result),
    CONSTRAINT clock_reports_escalation_fkey FOREIGN KEY (escalation) REFERENCES messages(id),
    CONSTRAINT clock_reports_report_id_fkey FOREIGN KEY (report_id) REFERENCES messages(id),
    CONSTRAINT clock_reports_result_check CHECK ((result = ANY (ARRAY['met'::text, 'answered-late'::text, 'breached'::text])))
);
CREATE INDEX clock_reports_due_idx ON public.clock_reports USING btree (id) WHERE (reported_at IS NULL);

CREATE TABLE content_url_digests (
    case_id uuid NOT NULL,
    message_id uuid NOT NULL,
    digest bytea NOT NULL,
    CONSTRAINT content_url_digests_pkey PRIMARY KEY (message_id, digest),
    CONSTRAINT content_url_digests_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT content_url_digests_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id)
);
CREATE INDEX content_url_digests_by_case ON public.content_url_digests USING btree (case_id);
CREATE INDEX content_url_digests_by_digest ON public.content_url_digests USING btree (digest);

CREATE TABLE coop_callbacks (
    id uuid NOT NULL,
    received_at timestamp with time zone NOT NULL,
    recipient_id text NOT NULL,
    case_id uuid NOT NULL,
    message_id uuid NOT NULL,
    coop_action_id text NOT NULL,
    raw bytea,
    raw_encrypted boolean DEFAULT false NOT NULL,
    raw_sha256 text NOT NULL,
    raw_bytes integer NOT NULL,
    verdict text NOT NULL,
    recorded_message_id uuid,
    CONSTRAINT coop_callbacks_pkey PRIMARY KEY (id),
    CONSTRAINT coop_callbacks_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT coop_callbacks_coop_action_id_check CHECK (((length(coop_action_id) >= 1) AND (length(coop_action_id) <= 200))),
    CONSTRAINT coop_callbacks_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT coop_callbacks_raw_bytes_check CHECK ((raw_bytes >= 0)),
    CONSTRAINT coop_callbacks_raw_sha256_check CHECK ((raw_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT coop_callbacks_raw_sha256_recipient_id_key UNIQUE (raw_sha256, recipient_id),
    CONSTRAINT coop_callbacks_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES participants(id),
    CONSTRAINT coop_callbacks_recorded_message_id_fkey FOREIGN KEY (recorded_message_id) REFERENCES messages(id),
    CONSTRAINT coop_callbacks_verdict_check CHECK ((verdict ~ '^[a-z][a-z0-9-]{1,62}$'::text))
);
CREATE INDEX coop_callbacks_case_idx ON public.coop_callbacks USING btree (case_id, received_at);

CREATE TABLE deadlines (
    id bigint DEFAULT nextval('deadlines_id_seq'::regclass) NOT NULL,
    case_id uuid NOT NULL,
    message_id uuid NOT NULL,
    recipient_id text NOT NULL,
    kind text NOT NULL,
    jurisdiction text NOT NULL,
    rule_id text NOT NULL,
    legal_basis text NOT NULL,
    notify_regulator boolean DEFAULT false NOT NULL,
    started_at timestamp with time zone NOT NULL,
    due_at timestamp with time zone NOT NULL,
    reminders timestamp with time zone[] DEFAULT '{}'::timestamp with time zone[] NOT NULL,
    next_fire_at timestamp with time zone,
    state text DEFAULT 'open'::text NOT NULL,
    met_at timestamp with time zone,
    met_by uuid,
    breached_at timestamp with time zone,
    escalation_id uuid,
    answered_late_at timestamp with time zone,
    cancelled_at timestamp with time zone,
    CONSTRAINT deadlines_pkey PRIMARY KEY (id),
    CONSTRAINT deadlines_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT deadlines_check CHECK (((state = 'open'::text) = (next_fire_at IS NOT NULL))),
    CONSTRAINT deadlines_escalation_id_fkey FOREIGN KEY (escalation_id) REFERENCES messages(id),
    CONSTRAINT deadlines_kind_check CHECK ((kind = ANY (ARRAY['acknowledge'::text, 'act'::text, 'respond'::text, 'confirm_deletion'::text]))),
    CONSTRAINT deadlines_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT deadlines_message_id_recipient_id_kind_key UNIQUE (message_id, recipient_id, kind),
    CONSTRAINT deadlines_met_by_fkey FOREIGN KEY (met_by) REFERENCES messages(id),
    CONSTRAINT deadlines_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES participants(id),
    CONSTRAINT deadlines_state_check CHECK ((state = ANY (ARRAY['open'::text, 'met'::text, 'breached'::text, 'cancelled'::text])))
);
CREATE INDEX deadlines_case_idx ON public.deadlines USING btree (case_id, recipient_id);
CREATE INDEX deadlines_fire_idx ON public.deadlines USING btree (next_fire_at) WHERE (state = 'open'::text);
CREATE INDEX deadlines_overdue_idx ON public.deadlines USING btree (case_id) WHERE ((state = 'breached'::text) AND (answered_late_at IS NULL));

CREATE TABLE deliveries (
    seq bigint DEFAULT nextval('deliveries_seq_seq'::regclass) NOT NULL,
    message_id uuid NOT NULL,
    recipient_id text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    retrieved_at timestamp with time zone,
    channel text DEFAULT 'pull'::text NOT NULL,
    adapter text,
    due_at timestamp with time zone,
    lease_token uuid,
    leased_by text,
    lease_expires_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    first_attempt_at timestamp with time zone,
    last_attempt_at timestamp with time zone,
    last_status integer,
    last_error text,
    delivered_at timestamp with time zone,
    dead_at timestamp with time zone,
    dead_reason text,
    evidence text,
    clocks jsonb DEFAULT '[]'::jsonb NOT NULL,
    held_since timestamp with time zone,
    destination text DEFAULT ''::text NOT NULL,
    CONSTRAINT deliveries_pkey PRIMARY KEY (seq),
    CONSTRAINT deliveries_channel_check CHECK ((channel = ANY (ARRAY['pull'::text, 'push'::text]))),
    CONSTRAINT deliveries_lease_complete CHECK (((state = 'in_flight'::text) = ((lease_token IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT deliveries_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT deliveries_message_id_recipient_id_destination_key UNIQUE (message_id, recipient_id, destination),
    CONSTRAINT deliveries_push_has_adapter CHECK (((channel = 'push'::text) = (adapter IS NOT NULL))),
    CONSTRAINT deliveries_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES participants(id),
    CONSTRAINT deliveries_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'retrieved'::text, 'in_flight'::text, 'delivered'::text, 'dead'::text, 'purged'::text])))
);
CREATE INDEX deliveries_dead_idx ON public.deliveries USING btree (dead_at) WHERE (state = 'dead'::text);
CREATE INDEX deliveries_held_idx ON public.deliveries USING btree (recipient_id) WHERE (held_since IS NOT NULL);
CREATE INDEX deliveries_in_flight_idx ON public.deliveries USING btree (recipient_id, destination, lease_expires_at) WHERE (state = 'in_flight'::text);
CREATE INDEX deliveries_inbox_idx ON public.deliveries USING btree (recipient_id, seq) WHERE ((state = 'pending'::text) AND (channel = 'pull'::text));
CREATE INDEX deliveries_push_due_idx ON public.deliveries USING btree (due_at) WHERE ((state = 'pending'::text) AND (channel = 'push'::text));
CREATE INDEX deliveries_push_lease_idx ON public.deliveries USING btree (lease_expires_at) WHERE (state = 'in_flight'::text);
CREATE INDEX deliveries_push_pending_idx ON public.deliveries USING btree (recipient_id, destination, seq) WHERE ((state = 'pending'::text) AND (channel = 'push'::text));

CREATE TABLE delivery_attempts (
    id bigint DEFAULT nextval('delivery_attempts_id_seq'::regclass) NOT NULL,
    delivery_seq bigint NOT NULL,
    attempt integer NOT NULL,
    worker text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    verdict text NOT NULL,
    http_status integer,
    detail text NOT NULL,
    CONSTRAINT delivery_attempts_pkey PRIMARY KEY (id),
    CONSTRAINT delivery_attempts_delivery_seq_fkey FOREIGN KEY (delivery_seq) REFERENCES deliveries(seq),
    CONSTRAINT delivery_attempts_verdict_check CHECK ((verdict = ANY (ARRAY['delivered'::text, 'retry'::text, 'attention'::text, 'permanent'::text])))
);
CREATE INDEX delivery_attempts_delivery_idx ON public.delivery_attempts USING btree (delivery_seq, id);

CREATE TABLE destinations (
    participant_id text NOT NULL,
    consecutive_failures integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    parked_at timestamp with time zone,
    parked_reason text,
    last_success_at timestamp with time zone,
    last_failure_at timestamp with time zone,
    consecutive_refusals integer DEFAULT 0 NOT NULL,
    park_notice_for timestamp with time zone,
    name text DEFAULT ''::text NOT NULL,
    CONSTRAINT destinations_pkey PRIMARY KEY (participant_id, name),
    CONSTRAINT destinations_consecutive_refusals_check CHECK ((consecutive_refusals >= 0)),
    CONSTRAINT destinations_participant_id_fkey FOREIGN KEY (participant_id) REFERENCES participants(id)
);

CREATE TABLE inbound_mail (
    id uuid NOT NULL,
    received_at timestamp with time zone NOT NULL,
    rcpt_to text NOT NULL,
    recipient_id text,
    case_id uuid,
    message_id uuid,
    raw bytea,
    raw_sha256 text NOT NULL,
    verdict text NOT NULL,
    recorded_message_id uuid,
    raw_encrypted boolean DEFAULT false NOT NULL,
    auth jsonb,
    raw_bytes integer,
    wrapped_key bytea,
    CONSTRAINT inbound_mail_pkey PRIMARY KEY (id),
    CONSTRAINT inbound_mail_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT inbound_mail_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT inbound_mail_raw_bytes_check CHECK ((raw_bytes >= 0)),
    CONSTRAINT inbound_mail_raw_sha256_check CHECK ((raw_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT inbound_mail_raw_sha256_rcpt_to_key UNIQUE (raw_sha256, rcpt_to),
    CONSTRAINT inbound_mail_rcpt_to_check CHECK (((length(rcpt_to) >= 1) AND (length(rcpt_to) <= 512))),
    CONSTRAINT inbound_mail_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES participants(id),
    CONSTRAINT inbound_mail_recorded_message_id_fkey FOREIGN KEY (recorded_message_id) REFERENCES messages(id),
    CONSTRAINT inbound_mail_verdict_check CHECK ((verdict ~ '^[a-z][a-z0-9-]{1,62}$'::text))
);
CREATE INDEX inbound_mail_case_idx ON public.inbound_mail USING btree (case_id, received_at) WHERE (case_id IS NOT NULL);
CREATE INDEX inbound_mail_clear_idx ON public.inbound_mail USING btree (received_at) WHERE ((raw IS NOT NULL) AND (NOT raw_encrypted));
CREATE INDEX inbound_mail_unmatched_idx ON public.inbound_mail USING btree (received_at) WHERE (case_id IS NULL);

CREATE TABLE messages (
    id uuid NOT NULL,
    sender_id text NOT NULL,
    kid text NOT NULL,
    message_type text NOT NULL,
    version text NOT NULL,
    case_id uuid NOT NULL,
    in_reply_to uuid,
    recipients text[] NOT NULL,
    created_at timestamp with time zone NOT NULL,
    accepted_at timestamp with time zone NOT NULL,
    payload_sha256 text NOT NULL,
    signed_form bytea,
    receipt text NOT NULL,
    form_encrypted boolean DEFAULT false NOT NULL,
    category text,
    CONSTRAINT messages_pkey PRIMARY KEY (id),
    CONSTRAINT messages_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT messages_in_reply_to_fkey FOREIGN KEY (in_reply_to) REFERENCES messages(id),
    CONSTRAINT messages_kid_fkey FOREIGN KEY (kid) REFERENCES participant_keys(kid),
    CONSTRAINT messages_payload_sha256_check CHECK ((payload_sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT messages_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES participants(id)
);
CREATE INDEX messages_case_idx ON public.messages USING btree (case_id, accepted_at);

CREATE TABLE participant_destinations (
    participant_id text NOT NULL,
    name text NOT NULL,
    adapter text NOT NULL,
    endpoint text,
    adapter_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    carries text[],
    binding text NOT NULL,
    bound_at timestamp with time zone NOT NULL,
    added_at timestamp with time zone NOT NULL,
    removed_at timestamp with time zone,
    CONSTRAINT participant_destinations_pkey PRIMARY KEY (participant_id, name),
    CONSTRAINT participant_destinations_adapter_check CHECK ((adapter ~ '^[a-z][a-z0-9_-]{1,40}$'::text)),
    CONSTRAINT participant_destinations_name_check CHECK ((name ~ '^[a-z][a-z0-9_-]{0,40}$'::text)),
    CONSTRAINT participant_destinations_participant_id_fkey FOREIGN KEY (participant_id) REFERENCES participants(id)
);

CREATE TABLE participant_keys (
    kid text NOT NULL,
    participant_id text NOT NULL,
    use text NOT NULL,
    jwk jsonb NOT NULL,
    not_before timestamp with time zone DEFAULT now() NOT NULL,
    not_after timestamp with time zone,
    revoked_at timestamp with time zone,
    revocation_reason text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    seq bigint DEFAULT nextval('participant_keys_seq_seq'::regclass) NOT NULL,
    origin text DEFAULT 'legacy'::text NOT NULL,
    binding text,
    epoch integer DEFAULT 0 NOT NULL,
    CONSTRAINT participant_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT participant_keys_check CHECK (((not_after IS NULL) OR (not_after > not_before))),
    CONSTRAINT participant_keys_check1 CHECK (((origin = 'binding'::text) = (binding IS NOT NULL))),
    CONSTRAINT participant_keys_epoch_check CHECK ((epoch >= 0)),
    CONSTRAINT participant_keys_origin_check CHECK ((origin = ANY (ARRAY['registration'::text, 'binding'::text, 'reset'::text, 'legacy'::text, 'feed'::text]))),
    CONSTRAINT participant_keys_participant_id_fkey FOREIGN KEY (participant_id) REFERENCES participants(id),
    CONSTRAINT participant_keys_use_check CHECK ((use = ANY (ARRAY['sig'::text, 'enc'::text])))
);
CREATE INDEX participant_keys_participant_idx ON public.participant_keys USING btree (participant_id);

CREATE TABLE participants (
    id text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    country text NOT NULL,
    endpoint text,
    accepts text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    domains text[] DEFAULT '{}'::text[] NOT NULL,
    trusted_flagger boolean DEFAULT false NOT NULL,
    adapter text DEFAULT 'pull'::text NOT NULL,
    adapter_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    hash_signals boolean DEFAULT false NOT NULL,
    epoch integer DEFAULT 0 NOT NULL,
    delivery_binding text,
    contact_email text,
    home_hub text,
    home_proof jsonb,
    peer_checkpoint text,
    peer_log_alarm text,
    CONSTRAINT participants_pkey PRIMARY KEY (id),
    CONSTRAINT participants_adapter_check CHECK ((adapter ~ '^[a-z][a-z0-9_-]{1,40}$'::text)),
    CONSTRAINT participants_contact_email_check CHECK (((contact_email IS NULL) OR ((length(contact_email) >= 3) AND (length(contact_email) <= 254)))),
    CONSTRAINT participants_country_check CHECK ((country ~ '^[A-Z]{2}$'::text)),
    CONSTRAINT participants_epoch_check CHECK ((epoch >= 0)),
    CONSTRAINT participants_home_hub_check CHECK (((home_hub IS NULL) = (POSITION(('@'::text) IN (id)) = 0))),
    CONSTRAINT participants_home_hub_fkey FOREIGN KEY (home_hub) REFERENCES participants(id),
    CONSTRAINT participants_home_proof_check CHECK (((home_proof IS NULL) OR (home_hub IS NOT NULL))),
    CONSTRAINT participants_id_check CHECK ((id ~ '^[a-z0-9][a-z0-9._-]{1,62}(@[a-z0-9][a-z0-9._-]{1,62})?$'::text)),
    CONSTRAINT participants_kind_check CHECK ((kind = ANY (ARRAY['hotline'::text, 'platform'::text, 'regulator'::text, 'law-enforcement'::text, 'support-service'::text, 'hub'::text]))),
    CONSTRAINT participants_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT participants_peer_checkpoint_check CHECK (((peer_checkpoint IS NULL) OR (kind = 'hub'::text))),
    CONSTRAINT participants_peer_log_alarm_check CHECK (((peer_log_alarm IS NULL) OR (kind = 'hub'::text)))
);
CREATE INDEX participants_domains_idx ON public.participants USING gin (domains);
CREATE INDEX participants_kind_country_idx ON public.participants USING btree (kind, country);

CREATE TABLE purges (
    id bigint DEFAULT nextval('purges_id_seq'::regclass) NOT NULL,
    case_id uuid NOT NULL,
    purged_at timestamp with time zone NOT NULL,
    final_at timestamp with time zone NOT NULL,
    retention interval NOT NULL,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT purges_pkey PRIMARY KEY (id),
    CONSTRAINT purges_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id)
);

CREATE TABLE schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);

CREATE TABLE signal_changes (
    id bigint DEFAULT nextval('signal_changes_id_seq'::regclass) NOT NULL,
    seq bigint,
    signal_id uuid NOT NULL,
    platform_id text NOT NULL,
    status text NOT NULL,
    changed_at timestamp with time zone NOT NULL,
    CONSTRAINT signal_changes_pkey PRIMARY KEY (id),
    CONSTRAINT signal_changes_seq_key UNIQUE (seq),
    CONSTRAINT signal_changes_signal_id_platform_id_fkey FOREIGN KEY (signal_id, platform_id) REFERENCES signal_copies(signal_id, platform_id),
    CONSTRAINT signal_changes_status_check CHECK ((status = ANY (ARRAY['active'::text, 'withdrawn'::text, 'deleted'::text])))
);
CREATE INDEX signal_changes_copy_idx ON public.signal_changes USING btree (signal_id, platform_id, id);
CREATE INDEX signal_changes_feed_idx ON public.signal_changes USING btree (platform_id, seq) WHERE (seq IS NOT NULL);
CREATE INDEX signal_changes_unsequenced_idx ON public.signal_changes USING btree (id) WHERE (seq IS NULL);

CREATE TABLE signal_copies (
    signal_id uuid NOT NULL,
    platform_id text NOT NULL,
    audience text NOT NULL,
    status text NOT NULL,
    status_changed_at timestamp with time zone NOT NULL,
    CONSTRAINT signal_copies_pkey PRIMARY KEY (signal_id, platform_id),
    CONSTRAINT signal_copies_audience_check CHECK ((audience = ANY (ARRAY['recipient'::text, 'opted-in'::text]))),
    CONSTRAINT signal_copies_platform_id_fkey FOREIGN KEY (platform_id) REFERENCES participants(id),
    CONSTRAINT signal_copies_signal_id_fkey FOREIGN KEY (signal_id) REFERENCES signals(id),
    CONSTRAINT signal_copies_status_check CHECK ((status = ANY (ARRAY['active'::text, 'withdrawn'::text, 'deleted'::text])))
);
CREATE INDEX signal_copies_platform_idx ON public.signal_copies USING btree (platform_id);

CREATE TABLE signal_feed_positions (
    platform_id text NOT NULL,
    position bigint NOT NULL,
    read_at timestamp with time zone NOT NULL,
    CONSTRAINT signal_feed_positions_pkey PRIMARY KEY (platform_id),
    CONSTRAINT signal_feed_positions_platform_id_fkey FOREIGN KEY (platform_id) REFERENCES participants(id),
    CONSTRAINT signal_feed_positions_position_check CHECK (("position" >= 0))
);

CREATE TABLE signals (
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    message_id uuid NOT NULL,
    item integer NOT NULL,
    alg text NOT NULL,
    value text,
    created_at timestamp with time zone NOT NULL,
    purged_at timestamp with time zone,
    CONSTRAINT signals_pkey PRIMARY KEY (id),
    CONSTRAINT signals_alg_check CHECK ((alg = ANY (ARRAY['pdq'::text, 'md5'::text, 'sha256'::text]))),
    CONSTRAINT signals_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT signals_check CHECK (((value IS NULL) = (purged_at IS NOT NULL))),
    CONSTRAINT signals_item_check CHECK ((item >= 0)),
    CONSTRAINT signals_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages(id),
    CONSTRAINT signals_value_check CHECK ((value ~ '^[0-9a-f]{32}([0-9a-f]{32})?$'::text))
);
CREATE INDEX signals_case_idx ON public.signals USING btree (case_id);

CREATE TABLE used_tokens (
    issuer text NOT NULL,
    jti text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT used_tokens_pkey PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_tokens_expiry_idx ON public.used_tokens USING btree (expires_at);

-- function hub_claim_due_deliveries(p_at timestamp with time zone, p_token
-- function hub_claim_for(p_destination text, p_name text, p_at timestamp w
-- function hub_destination_of(p_recipient text)
-- function hub_due_destinations(p_at timestamp with time zone, p_limit int
-- function hub_finish_and_claim(p_pushes jsonb, p_failures jsonb, p_at tim
-- function hub_finish_failures(failures jsonb)
-- function hub_finish_pushes(pushes jsonb)
-- function hub_further_deliveries()
-- function hub_hold_parked(p_at timestamp with time zone, p_destination te
-- function hub_meet_deadlines(p_case uuid, p_participant text, p_kinds tex
-- function hub_peer_holds(p_recipient text, p_at timestamp with time zone)
-- function hub_peer_in_flight(p_peer text, p_at timestamp with time zone)
-- function hub_queue_clock_report(p_deadline bigint, p_result text, p_at t
-- function hub_record_rows(rows jsonb)
-- function hub_rows_merged(parts jsonb[])
-- function hub_set_party_state(p_case uuid, p_participant text, p_from tex
-- function hub_text_array(value jsonb)
-- function signal_changes_append_only()
-- trigger hub_further_deliveries ON deliveries
-- trigger signal_changes_append_only ON signal_changes
-- type hub_claimed_delivery
