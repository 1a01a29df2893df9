"""hw3: every catalogued bug loses points on the tests meant for it; correct variants keep full marks.

The variants are the ``*_variants.py`` files beside this one; the harness is
:mod:`tests.assignments.catalogue`.
"""

from pathlib import Path

from tests.assignments.catalogue import catalogue_tests

test_variant_names_are_unique_and_modules_are_graded, test_variant_fails_exactly_its_tests, graded_variants = \
    catalogue_tests("hw3", Path(__file__).parent)
