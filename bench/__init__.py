"""Benchmarks: `make bench` runs them against the local Redis and Postgres and the
simulator, with a bare-Celery baseline in the same run, and rewrites BENCHMARKS.md."""
