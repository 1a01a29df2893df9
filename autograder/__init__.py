"""Build, distribute and grade the course's homeworks.

Pipeline: ``assignments/<id>`` (sources with marked solution regions)
-> :mod:`autograder.build` (student release, solution key)
-> :mod:`autograder.grade` (one submission, sandboxed, into Gradescope's results.json).
"""

__version__ = "0.1.0"
