"""RFC 9457 problem details: one stable `type` per kind of refusal, and the middleware that answers
every error, ours or aiohttp's, as `application/problem+json` (`hub/api/problem_middleware.py`).

Details never repeat message content; an unexpected error is logged by class name and request id only.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hub.store.database import UNAVAILABLE

PROBLEM_BASE = "urn:referral-hub:problem:"
CONTENT_TYPE = "application/problem+json"

# code: (HTTP status, title)
PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "Malformed JSON"),
    # The strict JSON profile (hub/core/inputs.py) of headers, payloads, token claims and bodies:
    "json-not-utf8": (400, "JSON not in UTF-8"),
    "json-byte-order-mark": (400, "JSON with a byte order mark"),
    "json-duplicate-member": (400, "JSON object with a duplicate member name"),
    "json-non-finite-number": (400, "NaN, Infinity or a number too large for a double in JSON"),
    "json-number-out-of-range": (400, "JSON integer beyond the interoperable range"),
    "json-too-deep": (400, "JSON nested too deeply"),
    "json-invalid-string": (400, "JSON string with a lone surrogate or a NUL"),
    "malformed-jws": (400, "Malformed JWS"),
    "jws-key-header": (400, "JWS header names a key other than by kid"),
    "jws-unprotected-content": (400, "JWS content outside the signature"),
    "invalid-parameter": (400, "Invalid parameter"),
    "body-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "unknown-key": (401, "Unknown signing key"),
    "key-not-valid": (401, "Signing key expired, not yet valid or revoked"),
    "bad-signature": (401, "Signature does not verify"),
    "missing-token": (401, "Missing bearer token"),
    "invalid-token": (401, "Invalid bearer token"),
    "token-replay": (401, "Bearer token already used"),
    "sender-mismatch": (403, "Sender is not the key's owner"),
    # 403, not 401: Coop signs its callbacks, it takes no challenge (no WWW-Authenticate scheme to name)
    "coop-signature-invalid": (403, "Coop signature does not verify"),
    "not-a-party": (403, "Not a party to the case"),
    "share-not-allowed": (403, "The case may not be shared with this participant"),
    "not-a-peer": (403, "Not a registered peer hub"),
    "binding-not-yours": (403, "A participant binds only its own directory entry"),
    "case-not-found": (404, "Case not found"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "request-timeout": (408, "Request not received in time"),
    "duplicate-id": (409, "Message id already used for other content"),
    "invalid-transition": (409, "State change not allowed"),
    "case-conflict": (409, "The forwarded case id is already a case of this hub"),
    "schema-invalid": (422, "Message does not match its template"),
    "unknown-template": (422, "Unknown template or version"),
    "csam-referral": (422, "Possible child sexual abuse material: use the CSAM channel"),
    "sender-not-vouched": (422, "Sender not vouched for by the forwarding hub"),
    "invalid-hop-receipt": (422, "The forwarding hub's receipt does not verify or names another message"),
    "not-for-this-hub": (422, "A recipient is not a participant of this hub"),
    "unknown-recipient": (422, "Unknown recipient"),
    "invalid-recipient": (422, "Invalid recipient"),
    "recipient-does-not-accept": (422, "Recipient does not accept this message type"),
    "sealed-key-mismatch": (422, "Sealed parts do not name each recipient's current encryption key"),
    "recipient-without-encryption-key": (422, "Recipient has no encryption key for sealed parts"),
    "unknown-case": (422, "Reply to an unknown case"),
    "invalid-reply": (422, "Reply to a message outside the case"),
    "unknown-message": (422, "Unknown message"),
    "coop-callback-unreadable": (422, "Coop callback gives no answer the hub can record"),
    "unknown-signal": (422, "Not a hash signal of the case that the sender holds a copy of"),
    "unroutable": (422, "No recipient found for the routing selector"),
    "ambiguous-route": (422, "The routing selector matches several recipients"),
    "split-per-recipient": (422, "One takedown request per platform: split the referral"),
    "hub-only-type": (422, "Only the hub issues this message type"),
    "invalid-binding": (422, "The directory binding does not verify"),
    "invalid-cosignature": (422, "The checkpoint cosignature does not verify"),
    "directory-conflict": (409, "The directory change conflicts with the directory"),
    "unknown-checkpoint": (404, "No checkpoint of that tree size"),
    "case-closed": (409, "The case is closed"),
    "cursor-beyond-feed": (409, "Cursor past the end of the feed: start again without one"),
    "case-purged": (410, "The case's personal data was purged at the end of retention"),
    "too-many-long-polls": (429, "Too many concurrent long-polls"),
    "internal-error": (500, "Internal error"),
    "service-unavailable": (503, "Service unavailable"),
}


# The database is down or restarting: the client should try again, nothing was stored.
DATABASE_UNAVAILABLE = UNAVAILABLE


def problem_type(code: str) -> str:
    return PROBLEM_BASE + code


def problem_response(code: str, detail: str, *, instance: str | None = None, **extra: Any) -> web.Response:
    status, title = PROBLEMS[code]
    body: dict[str, Any] = {"type": problem_type(code), "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    response = web.Response(status=status, text=json.dumps(body), content_type=CONTENT_TYPE)
    if status == 401:  # RFC 9110 15.5.2: every 401 names the scheme to use
        response.headers["WWW-Authenticate"] = 'Bearer realm="referral-hub"'
    return response
