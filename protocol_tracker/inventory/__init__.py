"""Cell-bank storage: tanks, racks, boxes (a configurable geometry) and their positions."""
