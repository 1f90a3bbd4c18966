"""Daily reconciliation: walk every contact carrying a rule's tag, enqueue only what differs from
the stored state, then re-check the contacts we placed that the walk no longer saw.

One module per concept, the public names re-exported here.

runner: the stepped run (start, step, hand-over, lease). feed: how fast the walk fills the queue.
tag_walk: the walk of each rule's tag in GHL. leftovers: the scan for contacts the walk no longer
saw. census: the counts that scan takes. calls: the API calls a run makes.
"""

from chalicelib.services.reconcile.calls import CallMeter
from chalicelib.services.reconcile.census import add_to_census, empty_census
from chalicelib.services.reconcile.feed import FeedPace
from chalicelib.services.reconcile.leftovers import Leftovers
from chalicelib.services.reconcile.runner import Reconciler, RunTimings
from chalicelib.services.reconcile.tag_walk import TagWalk, WalkLimits, WalkScope

__all__ = [
    "CallMeter",
    "FeedPace",
    "Leftovers",
    "Reconciler",
    "RunTimings",
    "TagWalk",
    "WalkLimits",
    "WalkScope",
    "add_to_census",
    "empty_census",
]
