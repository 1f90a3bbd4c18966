"""One module per scenario; each `run()` returns a ScenarioResult (see bench.report)."""
