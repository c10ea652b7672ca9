"""Adversarial corpus: bad arguments, hostile names and data, faults; no run may print a
traceback and every output must be safe for its reader."""
