"""Scenarios: validated YAML specs, the SimPy drivers that run them, and the CLI."""
