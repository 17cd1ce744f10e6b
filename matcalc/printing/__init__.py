"""Printers: one table per output language, keyed by op."""
