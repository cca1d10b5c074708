"""A pymoo mixed-variable problem mirroring a :class:`~moo_cosearch.space.JointSpace`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pymoo.core.problem import ElementwiseProblem
from pymoo.core.variable import Choice

if TYPE_CHECKING:
    from .space import JointSpace

__all__ = ["JointSpaceProblem"]


class JointSpaceProblem(ElementwiseProblem):
    """One ``Choice`` variable per searched parameter; evaluates designs through a callable."""

    def __init__(self, space: "JointSpace", evaluate: Callable[[dict[str, Any]], Any] | None,
                 n_obj: int, n_ieq_constr: int) -> None:
        self.space = space
        self._evaluate_design = evaluate
        variables = {p.name: Choice(options=list(p.choices)) for p in space.params if not p.fixed}
        super().__init__(vars=variables, n_obj=n_obj, n_ieq_constr=n_ieq_constr)

    def _evaluate(self, x: dict[str, Any], out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if self._evaluate_design is None:
            raise RuntimeError(f"this pymoo problem for space {self.space.name!r} was made "
                               "without an evaluate callable: pass one to JointSpace.to_pymoo")
        design = self.space.validate({k: _python(v) for k, v in x.items()})
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

