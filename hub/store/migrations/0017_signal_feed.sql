-- The hash-signal feed (issue 19): how far each platform has read it. A platform that asks for the page
-- after a position holds every change up to it, so its copies changed at or below `position` are
-- received (the platform's confirmation of receipt; what it did with them it reports as feedback).
CREATE TABLE signal_feed_positions (
    platform_id  text PRIMARY KEY REFERENCES participants (id),
    position     bigint NOT NULL CHECK (position >= 0),
    read_at      timestamptz NOT NULL
);
