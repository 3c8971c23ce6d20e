"""Benchmarks: synthetic catalogs and the runner (see bench/README.md); run from the repository, not shipped."""
