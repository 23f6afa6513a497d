"""Retention and purge across two hubs (docs/federation.md, section 6): each hub purges its own copy of a
forwarded case by its own retention policy, from its own time of the case's final state; a purge on one
hub deletes nothing on the other, and tells it nothing (the withdrawal and its deletion confirmation
are what crosses, as messages)."""

from __future__ import annotations

import uuid

import asyncpg

from hub.api.keys import POOL
from hub.policies import load_retention_policy
from hub.store.purge import purge_due_cases
from tests.factories import Member, deletion_confirmation, jose, withdrawal
from tests.test_federation_forwarding import hub_b_url  # noqa: F401  (a fixture)
from tests.test_federation_two_hubs import HUB_A, Federation, federation  # noqa: F401


async def kept_signed_forms(db: asyncpg.Connection, case_id: uuid.UUID) -> int:
    found = await db.fetchval(
        "SELECT count(*) FROM messages WHERE case_id = $1 AND signed_form IS NOT NULL", case_id
    )
    return int(found)


async def test_each_hub_purges_its_own_copy_of_a_forwarded_case_by_its_own_retention(
    federation: Federation,  # noqa: F811
) -> None:
    f = federation
    sent = await f.send()
    await f.forward_all()
    pulled = await f.b.client.get(
        "/v1/inbox",
        headers={
            "Authorization": f"Bearer {f.platform.token(audience=f.b.identity.hub_id, now=f.b.clock.ts())}"
        },
    )
    assert len((await pulled.json())["messages"]) == 1
    withdrawn = withdrawal(f.hotline, [f.remote_platform], sent["case_id"], sent["message_id"])
    assert (await f.a.client.post("/v1/messages", **jose(f.hotline.sign(withdrawn)))).status == 202
    await f.forward_all()
    remote_hotline = Member(f"de-hotline@{HUB_A}", "hotline", "DE", f.hotline.key, f.hotline.enc)
    confirmation = deletion_confirmation(f.platform, remote_hotline, sent["case_id"], withdrawn["id"])
    assert (await f.b.client.post("/v1/messages", **jose(f.platform.sign(confirmation)))).status == 202
    await f.forward_all(f.b)
    case_id, policy = uuid.UUID(sent["case_id"]), load_retention_policy()
    assert await kept_signed_forms(f.a.db, case_id) == 3  # the takedown, the withdrawal, the confirmation
    assert await kept_signed_forms(f.b.db, case_id) == 3

    # A's retention of a withdrawn case (30 days) ends: A purges its copy, and only its own
    f.a.clock.advance(days=31)
    assert await purge_due_cases(f.a.app[POOL], policy, f.a.clock()) == [case_id]
    assert await kept_signed_forms(f.a.db, case_id) == 0
    assert await kept_signed_forms(f.b.db, case_id) == 3
    assert await purge_due_cases(f.b.app[POOL], policy, f.b.clock()) == []  # B's retention is not over
    assert await f.b.db.fetchval("SELECT purged_at FROM cases WHERE id = $1", case_id) is None

    # B's own retention ends: B's purge takes its forwarded copy as any case of its own
    f.b.clock.advance(days=31)
    assert await purge_due_cases(f.b.app[POOL], policy, f.b.clock()) == [case_id]
    assert await kept_signed_forms(f.b.db, case_id) == 0
    assert (
        await f.b.db.fetchval("SELECT shredded_at FROM case_keys WHERE case_id = $1", case_id) == f.b.clock()
    )
    purged = await f.b.db.fetchval(
        "SELECT count(*) FROM case_events WHERE case_id = $1 AND event = 'case.purged' AND actor = 'hub'",
        case_id,
    )
    assert purged == 1
