"""Operator tools (the CLI and its doctor): run from a checkout, never shipped to Lambda."""
