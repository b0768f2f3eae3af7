"""Benchmarks and (later) Locust load tests; a process of its own."""
