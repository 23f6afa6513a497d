"""The pinning rule (`hub.core.pins`) and the file that keeps pins between runs, without a hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.client.trust_store import TrustStore, TrustStoreError
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk
from hub.core.log_watch import Seen
from hub.core.pins import Identity, apply_pin, identity_of, pin_conflict

ROOT = PrivateSigningJwk.generate("p-sig").public()
OTHER = PrivateSigningJwk.generate("p-sig-2").public()
ENC = PrivateEncryptionJwk.generate("p-enc").public()


def jwks(epoch: int, root: str | None) -> dict[str, object]:
    keys = [ROOT.to_dict() | {"status": "active"}, ENC.to_dict() | {"status": "active"}]
    return {"keys": keys, "refused": {}, "refused_encryption_keys": [], "epoch": epoch, "root": root}


@pytest.mark.parametrize(
    ("pinned", "shown", "conflict"),
    [
        (None, Identity(0, ROOT.thumbprint()), None),  # first use: nothing to hold it against
        (Identity(0, ROOT.thumbprint()), Identity(0, ROOT.thumbprint()), None),
        (Identity(0, ROOT.thumbprint()), Identity(1, OTHER.thumbprint()), "were reset"),
        (
            Identity(0, ROOT.thumbprint()),
            Identity(0, OTHER.thumbprint()),
            "were reset",
        ),  # same epoch, new root
        (Identity(2, ROOT.thumbprint()), Identity(1, ROOT.thumbprint()), "rolled back"),
        (Identity(0, ROOT.thumbprint()), None, "no registered root key"),
    ],
)
def test_pin_conflict(pinned: Identity | None, shown: Identity | None, conflict: str | None) -> None:
    reason = pin_conflict("p", pinned, shown)
    if conflict is None:
        assert reason is None
    else:
        assert reason is not None
        assert conflict in reason


def test_a_conflict_refuses_every_key_and_names_the_new_root() -> None:
    pinned = Identity(0, OTHER.thumbprint())
    kept = apply_pin("p", jwks(1, ROOT.thumbprint()), pinned)
    assert kept["keys"] == []
    assert set(kept["refused"]) == {ROOT.kid, ENC.kid}
    assert kept["refused_encryption_keys"] == [ENC.kid]
    assert Identity(1, ROOT.thumbprint()).fingerprint in kept["alarm"]
    same = apply_pin("p", jwks(0, OTHER.thumbprint()), pinned)
    assert len(same["keys"]) == 2
    assert "alarm" not in same
    assert identity_of(same) == pinned


def test_the_store_keeps_pins_and_only_a_larger_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "state" / "trust.json"
    store = TrustStore(path)
    store.pin("hub-a", "p", Identity(0, ROOT.thumbprint()))
    store.keep_checkpoint("hub-a", Seen(5, "aa", "cp5"))
    store.keep_checkpoint("hub-a", Seen(3, "bb", "cp3"))
    again = TrustStore(path)
    assert again.pinned("hub-a", "p") == Identity(0, ROOT.thumbprint())
    assert again.pinned("hub-b", "p") is None  # pins are per hub
    assert again.checkpoint("hub-a") == Seen(5, "aa", "cp5")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_a_file_that_is_not_a_trust_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text("[1, 2]", "utf-8")
    with pytest.raises(TrustStoreError, match="not a trust store"):
        TrustStore(path)
