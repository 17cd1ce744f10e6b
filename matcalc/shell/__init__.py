"""Thin shells over the API: the command line (and the REPL)."""
