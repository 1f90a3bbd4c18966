"""Daily reconciliation, one module per concept; the public names are re-exported here."""

from chalicelib.services.reconcile.census import add_to_census, empty_census
from chalicelib.services.reconcile.runner import Reconciler

__all__ = ["Reconciler", "add_to_census", "empty_census"]
