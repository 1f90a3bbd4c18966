"""The small interfaces the core needs from the outside world, one module per concern;
adapters implement them. Import them from here: `from chalicelib.ports import StateStore`."""

from __future__ import annotations

from chalicelib.ports.locations import (
    GhlTokens,
    LocationDirectory,
    LocationRegistry,
    LocationSecrets,
    TokenCheck,
    TokenChecks,
    TokenVerdict,
)
from chalicelib.ports.oauth import (
    GhlOAuthApi,
    InstalledLocation,
    TokenLease,
)
from chalicelib.ports.operator import (
    DeadLetters,
    LoginThrottle,
)
from chalicelib.ports.outcomes import (
    CallOutcomes,
    GhlContactWriter,
    OutcomeStore,
    OutcomeTally,
)
from chalicelib.ports.sync import (
    AuthResult,
    BucketMemory,
    BucketResolution,
    CallToolsApi,
    CallToolsMatch,
    ContactDirectory,
    ContactQueue,
    CreatedContact,
    Dedup,
    GhlApi,
    GhlContactFinder,
    GhlSearch,
    LookupField,
    RunStarter,
    RunStore,
    SearchPage,
    StateIndex,
    StateStore,
    StatsSource,
    WebhookVerifier,
)

__all__ = [
    "AuthResult",
    "BucketMemory",
    "BucketResolution",
    "CallOutcomes",
    "CallToolsApi",
    "CallToolsMatch",
    "ContactDirectory",
    "ContactQueue",
    "CreatedContact",
    "DeadLetters",
    "Dedup",
    "GhlApi",
    "GhlContactFinder",
    "GhlContactWriter",
    "GhlOAuthApi",
    "GhlSearch",
    "GhlTokens",
    "InstalledLocation",
    "LocationDirectory",
    "LocationRegistry",
    "LocationSecrets",
    "LoginThrottle",
    "LookupField",
    "OutcomeStore",
    "OutcomeTally",
    "RunStarter",
    "RunStore",
    "SearchPage",
    "StateIndex",
    "StateStore",
    "StatsSource",
    "TokenCheck",
    "TokenChecks",
    "TokenLease",
    "TokenVerdict",
    "WebhookVerifier",
]
