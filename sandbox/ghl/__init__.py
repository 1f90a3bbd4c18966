"""The GoHighLevel API v2 sandbox: routes.py (GhlSandbox, the HTTP face), store.py (the contacts
and the Python API tests use) and search.py (the contact search's request language)."""

from sandbox.ghl.routes import GhlSandbox

__all__ = ["GhlSandbox"]
