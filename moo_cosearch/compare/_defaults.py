"""The harness's defaults, light enough for ``moo-cosearch --help`` to show them."""

from __future__ import annotations

__all__ = ["DEFAULT_COMPARE_STORAGE", "DEFAULT_TARGETS", "FORMATS"]

#: The harness's storage: one journal file in the output folder (``{out}`` is filled in).
DEFAULT_COMPARE_STORAGE = "journal:{out}/studies.log"
#: Default hypervolume targets, fractions of the best hypervolume any run found.
DEFAULT_TARGETS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)
#: Figure formats a comparison can write.
FORMATS = ("png", "pdf", "svg")
