"""Translators between each system's native documents and the canonical model."""
