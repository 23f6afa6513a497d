-- Issue 21, step 21.7 (docs/performance.md): a batch of finished pushes recorded and the slots it frees
-- claimed for the worker, in one statement. Under load a delivery round followed each batch of finished
-- pushes (the finish woke the worker, whose round claimed the freed slots): two statements where one does.
--
-- In order, in one transaction: the successful pushes as hub_finish_pushes records them, the failed ones
-- as hub_finish_failures does, then, if the worker can start any (`p_capacity` > 0), a round's claim as
-- hub_claim_due_deliveries makes it (the parked destinations' holds shown, then each due destination's
-- free slots under `p_cap` leased, longest-waiting first, up to `p_capacity`). The claim runs after the
-- finish in the same transaction, so it sees the slots the finish freed; its locks on destination and
-- delivery rows are taken with SKIP LOCKED, as in a round, and a destination row the finish locked is
-- this transaction's own. A stopping worker passes 0 and claims nothing.
--
-- One row per finished push (`finished` 'pushed' or 'failed', its `seq` and what hub_finish_pushes or
-- hub_finish_failures returns for it) and one per delivery claimed (`finished` 'claimed', the columns of
-- hub_claimed_delivery as a round returns them; spelled out, as asyncpg decodes no composite value with a
-- jsonb in it). If anything fails, nothing of it is stored, the claim included.
CREATE FUNCTION hub_finish_and_claim(
    p_pushes jsonb, p_failures jsonb, p_at timestamptz, p_token uuid, p_worker text, p_lease interval,
    p_cap integer, p_capacity integer, p_limit integer, p_actor text
) RETURNS TABLE (
    finished text, recorded boolean, failures_now integer, refusals_now integer, parked boolean,
    wait interval,
    -- hub_claimed_delivery's columns, in its order (migration 0030)
    seq bigint, message_id uuid, recipient_id text, adapter text, attempts integer,
    first_attempt_at timestamptz, lease_token uuid, case_id uuid, sender_id text, message_type text,
    version text, accepted_at timestamptz, payload_sha256 text, signed_form bytea, receipt text,
    endpoint text, adapter_config jsonb, form_encrypted boolean, clocks jsonb, wrapped_key bytea,
    destination text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF jsonb_array_length(p_pushes) > 0 THEN
        RETURN QUERY
            SELECT 'pushed'::text, p.recorded, NULL::integer, NULL::integer, NULL::boolean, NULL::interval,
                   (jsonb_populate_record(NULL::hub_claimed_delivery, jsonb_build_object('seq', p.seq))).*
            FROM hub_finish_pushes(p_pushes) p;
    END IF;
    IF jsonb_array_length(p_failures) > 0 THEN
        RETURN QUERY
            SELECT 'failed'::text, f.recorded, f.failures_now, f.refusals_now, f.parked, f.wait,
                   (jsonb_populate_record(NULL::hub_claimed_delivery, jsonb_build_object('seq', f.seq))).*
            FROM hub_finish_failures(p_failures) f;
    END IF;
    IF p_capacity > 0 THEN
        RETURN QUERY
            SELECT 'claimed'::text, NULL::boolean, NULL::integer, NULL::integer, NULL::boolean, NULL::interval,
                   c.*
            FROM hub_claim_due_deliveries(p_at, p_token, p_worker, p_lease, p_cap, p_capacity, p_limit,
                                          p_actor) c;
    END IF;
END
$$;
