"""Vials and vessels of a run: freezes into positions, thaws with an identity scan, custody
transfers, splits and observations, bank counts; the inventory's import and export.
"""
