"""Run outcomes: the signed release and rejection of a run (above qc, which they sign with)."""
