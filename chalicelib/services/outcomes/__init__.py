"""Call outcomes, CallTools → GHL: the hook route, applying one outcome, the catch-up."""
