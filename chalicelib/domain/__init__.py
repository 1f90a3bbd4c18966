"""The domain: contacts, rules, sync state and runs, the pure sync plan. Imports nothing else of ours."""
