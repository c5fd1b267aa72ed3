"""Leaves every layer may import: domain errors, actor types, enqueueing tasks by name."""
