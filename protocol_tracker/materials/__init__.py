"""Materials and their lots: receipt, signed release, expiry, recall status; the stock a lab
draws from.

Things that exist without a run: a lot is tied to the runs that used it by the consumption
records of ``protocol_tracker.usage`` (one floor up); a recall's reach across runs is
``protocol_tracker.recalls``.
"""
