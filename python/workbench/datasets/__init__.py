"""Demo data that runs offline: a seeded e-commerce event log with stories planted in it.

Example:
    >>> from workbench import datasets
    >>> demo = datasets.ecommerce(n_users=2_000, seed=7)
    >>> demo.events.num_rows > 0
    True

What is planted in the data is written down for teachers in ``STORIES.md`` next to this file.
"""

from workbench.datasets._ecommerce import EcommerceDemo, ecommerce, plan_path
from workbench.datasets.exercises import Exercises, exercises
from workbench.datasets.stories import Stories

__all__ = ["EcommerceDemo", "Exercises", "Stories", "ecommerce", "exercises", "plan_path"]
