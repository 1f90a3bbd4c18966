"""Benchmarks of the sync against a seed-style batch baseline (`make bench`, not part of `make test`)."""
