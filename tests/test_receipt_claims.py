"""The one reading of a receipt (`hub.core.receipt.read_receipt`): the `202` answer of `POST /v1/messages`
and the accepted-messages counter both take the message's names from it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from hub.core.jose import PrivateSigningJwk, sign_compact
from hub.core.receipt import read_receipt, sign_receipt


def test_read_receipt_gives_what_the_hub_signed() -> None:
    message_id, case_id = uuid.uuid4(), uuid.uuid4()
    receipt = sign_receipt(
        PrivateSigningJwk.generate(),
        hub_id="hub.example.test",
        message_id=message_id,
        message_type="referral",
        sender="hotline.example.test",
        recipients=["platform.example.test"],
        case_id=case_id,
        payload_sha256="ab" * 32,
        accepted_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    claims = read_receipt(receipt)
    assert claims.message_id == str(message_id)
    assert claims.case_id == str(case_id)
    assert claims.message_type == "referral"
    assert claims.payload_sha256 == "ab" * 32
    assert claims.accepted_at.startswith("2026-01-02T03:04:05")


@pytest.mark.parametrize("receipt", ["not a jws", "a.b.c"])
def test_read_receipt_refuses_what_is_no_receipt(receipt: str) -> None:
    with pytest.raises(ValueError, match="not a receipt"):
        read_receipt(receipt)


def test_read_receipt_refuses_a_jws_without_the_claims() -> None:
    with pytest.raises(ValueError, match="not a receipt"):
        read_receipt(sign_compact(b'{"message_id": "x"}', PrivateSigningJwk.generate(), {}))
