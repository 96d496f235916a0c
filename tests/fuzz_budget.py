"""How many examples each Hypothesis property draws: the written count in CI, a quarter in the fast loop.

Each property writes the count it runs in CI (`@settings(max_examples=examples(80))`). The profile
in force scales it: `ci` (what `.ci/run` selects with `HYPOTHESIS_PROFILE=ci`) keeps it, `dev` (the
default, for `pytest -m "not slow"` on a laptop) draws a quarter, at least 3. Hypothesis lets a
test's own `@settings` override any profile, so a profile alone could not scale them:
https://hypothesis.readthedocs.io/en/latest/tutorial/settings.html
"""
from __future__ import annotations

import os

from hypothesis import settings

FULL = 100  # Hypothesis's own default max_examples: the `ci` profile leaves it as is
settings.register_profile("ci", max_examples=FULL)
settings.register_profile("dev", max_examples=FULL // 4)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def examples(full: int) -> int:
    """`full` under the `ci` profile; scaled like the loaded profile's max_examples otherwise."""
    return max(3, round(full * settings.default.max_examples / FULL))
