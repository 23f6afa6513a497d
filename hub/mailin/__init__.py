"""Inbound e-mail: platforms' replies to the hub's e-mail notices, taken by `hub mail-in`
(`receiver`), read by a pure parser (`replies`) and recorded as hub-attested answers."""
