"""Judging runs: history, replicated facts, metrics, SLO verdicts and reports."""
