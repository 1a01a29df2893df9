"""Gradescope: the autograder zip to upload (:func:`write_autograder_zip`) and what runs inside it
(:mod:`autograder.gradescope.run`, started by the zip's ``run_autograder``). See README, Gradescope.
"""

from autograder.gradescope.package import write_autograder_zip

__all__ = ["write_autograder_zip"]
