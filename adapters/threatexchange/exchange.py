"""The hub as a python-threatexchange exchange: `NCIIHubSignalExchangeAPI` follows a platform's hash-signal
feed (`GET /v1/signals`, docs/wire-contract.md, "Hash signals") for the `threatexchange` command line and
for Hasher-Matcher-Actioner (HMA), modelled on the library's own StopNCII exchange
(`threatexchange/exchanges/impl/stop_ncii_api.py`).

- **Collaboration config** (`NCIIHubCollabConfig`): the hub's URL and the platform's participant id.
- **Credentials** (`NCIIHubCredentials`): the platform's Ed25519 private JWK, as a file path or inline,
  from `TX_NCII_HUB_KEY` or `~/.tx_ncii_hub_key` (the library's `CredentialHelper`). Every request carries
  a fresh single-use bearer JWT signed with it, made by the hub's own client (`hub.client.HubClient`).
- **Fetch** (`fetch_iter`): one `FetchDelta` per page of the feed, keyed by the hub's `signal_id`; its
  checkpoint (`NCIIHubCheckpoint`) is the feed's opaque cursor, so a fetch after a restart resumes where the
  last stored checkpoint left off, and never by timestamps.
- **Statuses**: an `active` record is the signal, present; `withdrawn` and `deleted` (and any status this
  version does not know) map to `None`, which the library's merge (`naive_fetch_merge`) and HMA's storage
  take as "remove this key". A deleted record has no value left (the hub forgot the hash), which is why
  the key is the signal's id and not the hash.
- **Signal types** (`naive_convert_to_signal_type`): `pdq` -> `PdqSignal`; `md5` -> `VideoMD5Signal` and
  `sha256` -> `VideoSHA256Signal`, the library's only MD5 and SHA-256 types (the same exact-bytes hash
  StopNCII's exchange maps its MD5s to). The hub's MD5 and SHA-256 are of the exact file, image or video;
  the library files them under its video types, so an image's MD5 matches only where the matcher looks up
  file hashes by value (HMA's lookup by signal, `threatexchange match video --hashes`), not when it hashes a
  photo (photos get PDQ). Skipped: a type the caller's `signal_types` does not list (HMA without
  `video_sha256` enabled, say), a hub type this version does not know, and a value the library's
  `validate_signal_str` refuses (logged by signal id only).

`fetch_iter` is synchronous, as the library's interface is: it runs each page's request on an event loop
of its own, so call it from a thread without a running event loop (as the CLI and HMA do).
"""

# No `from __future__ import annotations` here: the library's CLI reads the config dataclasses' field
# types as types (it builds `threatexchange config collab edit`'s options from them).
import asyncio
import json
import logging
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

from hub.client.http import HubClient, HubError
from hub.core.jose import InvalidJwkError, PrivateSigningJwk, load_private_jwk
from hub.core.signals import MATCHER_TYPE_NAMES
from hub.keyfile import KeyFileError, read_signing_key

API_NAME = "ncii_referral_hub"
PAGE_SIZE = 500  # the feed's default page; it gives at most 1000
ACTIVE = "active"
# the hub's signal types -> the names of the library's SignalTypes (their get_name()): one home, in
# hub.core.signals, which the HMA banking adapter shares
LIBRARY_TYPE_NAMES: dict[str, str] = MATCHER_TYPE_NAMES
REQUEST_TIMEOUT_SECONDS = 60

log = logging.getLogger(__name__)


class NCIIHubFetchError(Exception):
    """The hub refused a page of the feed, or did not answer as a hub: one line, no record in it."""


@dataclass
class _NCIIHubCollabConfigRequiredFields:
    hub_url: str = field(metadata={"help": "the hub's base URL, e.g. https://hub.example.org"})
    participant_id: str = field(metadata={"help": "your platform's participant id in the hub's directory"})


@dataclass
class NCIIHubCollabConfig(CollaborationConfigWithDefaults, _NCIIHubCollabConfigRequiredFields):
    """One hub, followed as one platform (the feed is the caller's: one collaboration per hub)."""

    api: str = field(init=False, default=API_NAME)
    page_size: int = field(default=PAGE_SIZE, metadata={"help": "changes per page (1 to 1000)"})


@dataclass
class NCIIHubCredentials(auth.CredentialHelper):
    """The platform's Ed25519 private JWK (the key whose public half is in the hub's directory).

    From a string (`TX_NCII_HUB_KEY`, HMA's `--from-str`): a path to the JWK file, or the JWK itself.
    From the file `~/.tx_ncii_hub_key`: the JWK itself (copy your key file there, `chmod 400`).
    """

    ENV_VARIABLE: t.ClassVar[str] = "TX_NCII_HUB_KEY"
    FILE_NAME: t.ClassVar[str] = "~/.tx_ncii_hub_key"

    key_file: str = field(
        default="", metadata={"help": "path to your platform's Ed25519 private JWK file (0600)"}
    )
    private_jwk: str = field(
        default="", metadata={"help": "or the private JWK itself, as JSON (rather than key_file)"}
    )

    @classmethod
    def _from_str(cls, s: str) -> "NCIIHubCredentials":
        text = s.strip()
        if text.startswith("{"):
            return cls(private_jwk=text)
        return cls(key_file=text)

    def _are_valid(self) -> bool:
        return bool(self.key_file) != bool(self.private_jwk)

    def signing_key(self) -> PrivateSigningJwk:
        """The key, read and checked; raises KeyFileError with a message that holds no key material."""
        if self.key_file:
            return read_signing_key(Path(self.key_file).expanduser())
        try:
            key = load_private_jwk(json.loads(self.private_jwk))
        except (ValueError, InvalidJwkError) as exc:  # JSONDecodeError is a ValueError
            raise KeyFileError(f"the inline key is not a private JWK: {exc.__class__.__name__}") from None
        if not isinstance(key, PrivateSigningJwk):
            raise KeyFileError("the inline key is an encryption key, not an Ed25519 signing key")
        return key


@dataclass
class NCIIHubCheckpoint(state.FetchCheckpointBase):
    """The feed's opaque cursor: the next fetch asks for what follows it. Never stale: the hub keeps its
    change log, and a cursor it no longer knows is refused (`cursor-beyond-feed`), not skipped."""

    cursor: str

    def get_progress_timestamp(self) -> int | None:
        return None  # the cursor is a position in commit order, not a time


@dataclass
class NCIIHubSignal:
    """An active signal as the feed gave it (the update record, keyed by `signal_id`)."""

    signal_id: str
    signal_type: str  # the hub's: pdq, md5, sha256
    value: str
    status_changed_at: str
    audience: str  # recipient (the request was addressed to you) or opted-in
    case_id: str | None = None  # recipients only
    message_id: str | None = None
    content_item: int | None = None


@dataclass
class NCIIHubSignalMetadata(state.FetchedSignalMetadata):
    """What the matcher keeps with a hash: the hub's signals that carry it (usually one)."""

    signals: list[NCIIHubSignal]

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        # a hotline's referral of content it has assessed: a lead to review, as StopNCII's user cases are
        tags = {"ncii"} | {s.audience for s in self.signals}
        return [state.SignalOpinion(False, state.SignalOpinionCategory.INVESTIGATION_SEED, tags)]


Delta = state.FetchDelta[str, NCIIHubSignal, NCIIHubCheckpoint]


class NCIIHubSignalExchangeAPI(
    auth.SignalExchangeWithAuth[NCIIHubCollabConfig, NCIIHubCredentials],
    SignalExchangeAPI[NCIIHubCollabConfig, NCIIHubCheckpoint, NCIIHubSignalMetadata, str, NCIIHubSignal],
):
    """The hub's hash-signal feed for the platform named in the collaboration (see the module's text)."""

    def __init__(self, collab: NCIIHubCollabConfig, key: PrivateSigningJwk) -> None:
        super().__init__()
        self.collab = collab
        self._key = key
        self._hub_id: str | None = None

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[NCIIHubCollabConfig]:
        return NCIIHubCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[NCIIHubCheckpoint]:
        return NCIIHubCheckpoint

    @staticmethod
    def get_record_cls() -> type[NCIIHubSignalMetadata]:
        return NCIIHubSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[NCIIHubCredentials]:
        return NCIIHubCredentials

    @classmethod
    def for_collab(
        cls, collab: NCIIHubCollabConfig, credentials: NCIIHubCredentials | None = None
    ) -> "NCIIHubSignalExchangeAPI":
        if not collab.hub_url.startswith(("https://", "http://")):
            raise ValueError(f"{collab.name}: hub_url must be an http(s) URL")
        if not 1 <= collab.page_size <= 1000:
            raise ValueError(f"{collab.name}: page_size must be 1 to 1000")
        credentials = credentials or NCIIHubCredentials.get(cls)
        try:
            key = credentials.signing_key()
        except KeyFileError as exc:
            raise auth.SignalExchangeAPIInvalidAuthException(cls, str(exc)) from None
        return cls(collab, key)

    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: NCIIHubCheckpoint | None,
    ) -> t.Iterator[Delta]:
        cursor = checkpoint.cursor if checkpoint is not None else None
        while True:
            page = asyncio.run(self._page(cursor))
            updates: dict[str, NCIIHubSignal | None] = {}
            for record in page["signals"]:  # oldest first: a later change of a signal wins
                key, value = fetch_delta_mapping(record)
                updates[key] = value
            if updates or page["cursor"] != cursor:
                cursor = page["cursor"]
                yield state.FetchDelta(updates, NCIIHubCheckpoint(page["cursor"]))
            if not page["more"]:
                return

    async def _page(self, cursor: str | None) -> dict[str, t.Any]:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = HubClient(
                session, self.collab.hub_url, self.collab.participant_id, self._key, hub_id=self._hub_id
            )
            try:
                page = await client.signals(cursor=cursor, limit=self.collab.page_size)
                self._hub_id = await client.hub_id()
            except HubError as exc:
                raise NCIIHubFetchError(f"{self.collab.name}: the hub refused the feed: {exc}") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise NCIIHubFetchError(
                    f"{self.collab.name}: cannot reach the hub: {exc.__class__.__name__}"
                ) from None
        if not (
            isinstance(page.get("signals"), list)
            and isinstance(page.get("cursor"), str)
            and isinstance(page.get("more"), bool)
        ):
            raise NCIIHubFetchError(f"{self.collab.name}: the hub's answer is not a page of the feed")
        return page

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: t.Sequence[type[SignalType]],
        collab: NCIIHubCollabConfig,
        fetched: t.Mapping[str, NCIIHubSignal],
    ) -> dict[type[SignalType], dict[str, NCIIHubSignalMetadata]]:
        by_name = {st.get_name(): st for st in signal_types}
        ret: dict[type[SignalType], dict[str, NCIIHubSignalMetadata]] = {}
        for signal in fetched.values():
            if signal is None:  # a removal not yet merged away
                continue
            s_type = by_name.get(LIBRARY_TYPE_NAMES.get(signal.signal_type, ""))
            if s_type is None:
                continue
            try:
                value = s_type.validate_signal_str(signal.value)
            except ValueError:
                log.warning("skipping signal %s: not a valid %s", signal.signal_id, s_type.get_name())
                continue
            inner = ret.setdefault(s_type, {})
            if value in inner:
                inner[value].signals.append(signal)
            else:
                inner[value] = NCIIHubSignalMetadata([signal])
        return ret


def fetch_delta_mapping(record: t.Mapping[str, t.Any]) -> tuple[str, NCIIHubSignal | None]:
    """One feed record as (key, value) of a FetchDelta: the signal when `active`, None (remove) otherwise."""
    try:
        key = str(record["signal_id"])
        if record["status"] != ACTIVE or record["value"] is None:
            return key, None
        return key, NCIIHubSignal(
            signal_id=key,
            signal_type=str(record["signal_type"]),
            value=str(record["value"]),
            status_changed_at=str(record["status_changed_at"]),
            audience=str(record["audience"]),
            case_id=record.get("case_id"),
            message_id=record.get("message_id"),
            content_item=record.get("content_item"),
        )
    except (KeyError, TypeError):
        raise NCIIHubFetchError("the hub's page holds a record without the feed's keys") from None
