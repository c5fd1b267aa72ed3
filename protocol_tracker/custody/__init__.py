"""Chain of custody, the run-bound half: the labelled items of a run, identity scans at the
protocol's identity checkpoints, custody hand-offs, shipments with their temperature loggers,
and label printing for a run's items. It sits above ``qc`` (a scan's verdict is a QC result; a
mismatch or an excursion is a deviation) and below ``outcomes``."""
