"""A pymoo mixed-variable problem mirroring a :class:`~moo_cosearch.space.JointSpace` (made by
``JointSpace.to_pymoo``; it takes the space's choices and validator, never the space module)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pymoo.core.problem import ElementwiseProblem
from pymoo.core.variable import Choice

__all__ = ["JointSpaceProblem"]


class JointSpaceProblem(ElementwiseProblem):
    """One ``Choice`` variable per searched parameter; evaluates designs through a callable.

    Args:
        name: the space's name (for messages).
        choices: searched parameter name -> its values.
        validate: the space's ``validate`` (a full design dict from the searched values).
        evaluate: design -> ``(objectives, constraints)``, or None (inspect only).
    """

    def __init__(self, name: str, choices: Mapping[str, Sequence[Any]],
                 validate: Callable[[dict[str, Any]], dict[str, Any]],
                 evaluate: Callable[[dict[str, Any]], Any] | None,
                 n_obj: int, n_ieq_constr: int) -> None:
        self.space_name = name
        self._validate = validate
        self._evaluate_design = evaluate
        variables = {k: Choice(options=list(v)) for k, v in choices.items()}
        super().__init__(vars=variables, n_obj=n_obj, n_ieq_constr=n_ieq_constr)

    def _evaluate(self, x: dict[str, Any], out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if self._evaluate_design is None:
            raise RuntimeError(f"this pymoo problem for space {self.space_name!r} was made "
                               "without an evaluate callable: pass one to JointSpace.to_pymoo")
        design = self._validate({k: _python(v) for k, v in x.items()})
        objectives, constraints = self._evaluate_design(design)
        f = np.asarray(objectives, dtype=float)
        if f.shape != (self.n_obj,):
            raise ValueError(f"evaluate must return {self.n_obj} objectives, got {f.shape}")
        out["F"] = f
        if self.n_ieq_constr:
            g = np.asarray(constraints, dtype=float)
            if g.shape != (self.n_ieq_constr,):
                raise ValueError(f"evaluate must return {self.n_ieq_constr} constraints, "
                                 f"got {g.shape}")
            out["G"] = g


def _python(v: Any) -> Any:
    """numpy scalars (from pymoo's object arrays) back to plain Python values."""
    return v.item() if isinstance(v, np.generic) else v

