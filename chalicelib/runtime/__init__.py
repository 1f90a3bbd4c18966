"""Runtime: configuration, the wiring that composes every layer, logging and metrics, the deploy guard."""
