"""A recalled material lot across the runs that used it: signed, the runs flagged, deviations
opened and the reviewers told at once (a run outcome: it sits above qc).
"""
