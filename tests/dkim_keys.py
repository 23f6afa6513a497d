"""Test DKIM keys and a DNS table for them: replies are signed with dkimpy (`dkim.sign`) exactly as a
platform's mail server signs, and mail-in looks the keys up through its injectable `dnsfunc`, without
any network."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import dkim
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIGNED_HEADERS = [b"from", b"to", b"subject", b"message-id"]


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private: bytes  # as dkimpy takes it: base64 Ed25519 seed, or an RSA private key in PEM
    record: str  # the TXT record the domain publishes (or the participant pins)
    algorithm: bytes

    @classmethod
    def ed25519(cls, domain: str, selector: str = "hub2026") -> DkimKey:
        key = nacl.signing.SigningKey.generate()
        public = base64.b64encode(bytes(key.verify_key)).decode()
        seed = base64.b64encode(bytes(key))
        return cls(domain, selector, seed, f"v=DKIM1; k=ed25519; p={public}", b"ed25519-sha256")

    @classmethod
    def rsa(cls, domain: str, selector: str = "rsa2026") -> DkimKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(
            domain, selector, pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}", b"rsa-sha256"
        )

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}."

    def pinned(self) -> dict[str, str]:
        return {"domain": self.domain, "selector": self.selector, "record": self.record}

    def sign(
        self, raw: bytes, *, domain: str | None = None, length: bool = False, identity: str | None = None
    ) -> bytes:
        """The message with a DKIM-Signature header on top; `domain` claims another d= (a forgery)."""
        header = dkim.sign(
            raw,
            self.selector.encode(),
            (domain or self.domain).encode(),
            self.private,
            signature_algorithm=self.algorithm,
            include_headers=SIGNED_HEADERS,
            length=length,
            identity=identity.encode() if identity else None,
        )
        return bytes(header) + raw


@dataclass
class DkimDns:
    """dkimpy's `dnsfunc`: the TXT records published, and every name asked for."""

    records: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    timing_out: bool = False  # every lookup times out, as with an unreachable resolver

    def publish(self, *keys: DkimKey) -> DkimDns:
        for key in keys:
            self.records[key.dns_name.lower()] = key.record
        return self

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        text = (name.decode() if isinstance(name, bytes) else name).lower()
        self.asked.append(text)
        if self.timing_out:
            raise dkim.DnsTimeoutError(f"no answer for {text} in {timeout} s")
        record = self.records.get(text)
        return record.encode() if record is not None else None
