"""The hub as an exchange for python-threatexchange (the `threatexchange` command line and HMA): the
extra `referral-hub[threatexchange]`. Add it with `threatexchange config extensions add
adapters.threatexchange` (docs/hash-exchange.md); the library loads `TX_MANIFEST` from this module.

This package is for the platforms' side (a matcher following its hub's feed); the hub itself never
imports it.
"""

from __future__ import annotations

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from adapters.threatexchange.exchange import (
    API_NAME,
    NCIIHubCheckpoint,
    NCIIHubCollabConfig,
    NCIIHubCredentials,
    NCIIHubFetchError,
    NCIIHubSignal,
    NCIIHubSignalExchangeAPI,
    NCIIHubSignalMetadata,
    fetch_delta_mapping,
)

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(NCIIHubSignalExchangeAPI,))

__all__ = [
    "API_NAME",
    "TX_MANIFEST",
    "NCIIHubCheckpoint",
    "NCIIHubCollabConfig",
    "NCIIHubCredentials",
    "NCIIHubFetchError",
    "NCIIHubSignal",
    "NCIIHubSignalExchangeAPI",
    "NCIIHubSignalMetadata",
    "fetch_delta_mapping",
]
