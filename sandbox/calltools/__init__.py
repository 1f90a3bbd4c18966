"""The CallTools REST API sandbox: routes.py (CallToolsSandbox, the HTTP face), store.py (the
contacts, buckets and memberships, and the Python API tests use) and drf.py (pagination and the
Django REST Framework error shapes)."""

from sandbox.calltools.routes import BUCKET_METHODS, CallToolsSandbox
from sandbox.calltools.store import MembershipEvent

__all__ = ["BUCKET_METHODS", "CallToolsSandbox", "MembershipEvent"]
