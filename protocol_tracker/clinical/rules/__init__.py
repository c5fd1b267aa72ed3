"""Outcome rule sets, as plain Python (no Django): each cites its source and explains itself.

- :mod:`.igls`: the Igls criteria for β-cell replacement (Rickels et al. 2018) and the proposed
  Igls 2.0 (Landstra et al. 2021), computed per visit from its values and the baseline.
- :mod:`.vx880`: the composite primary endpoint of the VX-880 (zimislecel) trial [B9].
- :mod:`.cgm_targets`: the consensus CGM targets (Battelino et al. 2019), both target sets.

Every rule set returns an :class:`~.common.Assessment`: the class, the inputs it used (with their
units), one line per criterion (met or not, and why), what was missing, and warnings.
"""
