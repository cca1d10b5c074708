"""A space × objective set as a problem for other optimisers: a vectorised pymoo ``Problem``
(:func:`make_problem`) and OptunaHub-style benchmark problems (:mod:`.hub`)."""

from __future__ import annotations

from ._problem import CoSearchProblem, make_problem

__all__ = ["CoSearchProblem", "make_problem"]
