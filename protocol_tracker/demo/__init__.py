"""Demo data and the ``make run`` commands (``seed_demo``, ``run_all``): the top of the house."""
