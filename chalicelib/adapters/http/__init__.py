"""HTTP plumbing shared by the API adapters: retries and request pacing."""
