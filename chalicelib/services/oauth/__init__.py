"""GHL's OAuth for the marketplace app (docs/locations.md, "Marketplace install (OAuth)"):
grants kept and refreshed (tokens.py), installs registered (install.py) from the callback route
(callback.py) and the INSTALL / UNINSTALL webhooks (app_events.py), and the GHL token of any
registered location (ghl_tokens.py)."""
