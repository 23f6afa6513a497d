-- What each party to a case was given to see (issue 14, finding 3). hub/core/case_view.py decides it
-- when the party is added or shared with again; the case list and the statistics filter by it and
-- never work it out. NULL: the whole case (the originator; those the originator or the hub shared the
-- case with); else the recipients whose parts the party sees (a recipient: itself; whom recipients
-- shared the case with: those recipients).
ALTER TABLE case_parties ADD COLUMN sees_parts text[];
UPDATE case_parties SET sees_parts = ARRAY[participant_id] WHERE role = 'recipient';
UPDATE case_parties s SET sees_parts = ARRAY[s.added_by]
FROM case_parties r
WHERE s.role = 'shared' AND r.case_id = s.case_id AND r.participant_id = s.added_by AND r.role = 'recipient';
ALTER TABLE case_parties
    ADD CONSTRAINT case_parties_sees_parts_check CHECK (role <> 'recipient' OR sees_parts = ARRAY[participant_id]);
