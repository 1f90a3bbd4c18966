"""Shared test support: fakes, builders and helpers that test modules import (never one another)."""
