"""The GoHighLevel API v2 sandbox: routes.py (GhlSandbox, the HTTP face, serving many locations),
location.py (one location: its budget and read endpoints), store.py (its contacts and the Python
API tests use), writes.py (its writes), search.py (the contact search's request language),
oauth.py and grants.py (the marketplace app's OAuth) and webhooks_back.py (what GHL sends back)."""

from sandbox.ghl.location import GhlLocation
from sandbox.ghl.routes import GhlSandbox

__all__ = ["GhlLocation", "GhlSandbox"]
