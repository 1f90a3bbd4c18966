"""Builds the call-outcome parts (CallTools → GHL) from a Container's adapters, once each.

Apart from wiring.py so that neither grows past a screenful of builders; imports happen inside
each builder, as there: the webhook Lambda loads none of this.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.outcomes import DynamoOutcomeStore
    from chalicelib.adapters.calltools.outcomes import CallToolsOutcomes
    from chalicelib.runtime.wiring import Container
    from chalicelib.services.outcomes.apply import OutcomeSync
    from chalicelib.services.outcomes.catchup import OutcomeCatchUp
    from chalicelib.services.outcomes.intake import HookIntake
    from chalicelib.services.outcomes.runs import RunsWithCatchUp


class OutcomeWiring:
    def __init__(self, container: Container) -> None:
        self._c = container

    @cached_property
    def hook_intake(self) -> HookIntake:
        from chalicelib.services.outcomes.intake import HookIntake

        return HookIntake(self._c.queue, secret=self._c.secret("calltools_webhook_secret"))

    @cached_property
    def store(self) -> DynamoOutcomeStore:
        from chalicelib.adapters.aws.outcomes import DynamoOutcomeStore

        return DynamoOutcomeStore(self._c.dynamodb.Table(self._c.settings.state.table_name))

    @cached_property
    def calltools(self) -> CallToolsOutcomes:
        # Shares the contact sync's CallTools client: one pace towards the account.
        return self._c.calltools.outcomes()

    @cached_property
    def sync(self) -> OutcomeSync:
        from chalicelib.services.outcomes.apply import OutcomeAccounts, OutcomePlace, OutcomeSync
        from chalicelib.services.outcomes.take_out import TakeOutNow

        c, s = self._c, self._c.settings
        accounts = OutcomeAccounts(
            calltools=self.calltools,
            writer=c.ghl.writer(),
            reader=c.ghl,
            directory=c.state_store,
        )
        return OutcomeSync(
            accounts,
            self.store,
            s.outcomes.rules,
            OutcomePlace(s.ghl.location_id, s.outcomes.location_timezone),
            TakeOutNow(c.contact_sync, c.state_store, s.ghl.location_id),
            lease_seconds=s.state.contact_lease_seconds,
        )

    @cached_property
    def catch_up(self) -> OutcomeCatchUp:
        from chalicelib.services.outcomes.catchup import OutcomeCatchUp

        return OutcomeCatchUp(
            self.calltools,
            self.store,
            self._c.queue,
            limit=self._c.settings.outcomes.catchup_limit,
        )

    @cached_property
    def runs(self) -> RunsWithCatchUp:
        """What starts a run (the schedule, /sync/trigger): the catch-up is queued with it."""
        from chalicelib.services.outcomes.runs import RunsWithCatchUp

        plain, secret_id = self._c.settings.secret_setting("calltools_webhook_secret")
        on = bool(plain.get_secret_value().strip() or secret_id)
        return RunsWithCatchUp(lambda: self._c.reconciler, self._c.queue, enabled=on)
