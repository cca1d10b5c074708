"""The RL controllers' action space and policies (torch), used by :mod:`._rl`.

Every searched parameter is one categorical action: a categorical's choices, an int / stepped
float's grid (or ``bins`` points of it, evenly spaced, log-spaced for log distributions, when
the grid is larger), a float's ``bins`` evenly (log-)spaced points. A design is the sequence
of actions in parameter-name order.

Two policies over that sequence:

- ``"lstm"``: the controller of ENAS / FNAS / NASAIC. An ``LSTMCell`` runs one step per
  parameter; step ``t`` reads the embedding of action ``t - 1`` (a learned start vector at
  ``t = 0``) and emits the logits of parameter ``t`` through that parameter's linear head, so
  later choices are conditioned on earlier ones. Weights start uniform in [-0.1, 0.1] (ENAS).
- ``"logits"``: independent per-parameter logits (a product of categoricals), starting at 0
  (uniform): fewer weights, no conditioning.

Both give, for a batch of action sequences, the logits of every step along that sequence
(:meth:`step_logits`, teacher-forced), from which log-probabilities and entropies follow.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import numpy as np
import torch
from optuna.distributions import BaseDistribution

from .._codec import finite_levels, geomspread

__all__ = ["CONTROLLERS", "ActionSpace", "LSTMPolicy", "LogitsPolicy", "make_policy"]

CONTROLLERS = ("lstm", "logits")


class ActionSpace:
    """The discrete actions of a search space (see the module docstring).

    Args:
        search_space: name → Optuna distribution.
        bins: the most values an int / float parameter is cut into.

    Attributes:
        names: parameter names, sorted (the controller's step order).
        values: per parameter, the values its actions stand for.
        sizes: number of actions per parameter.
        signature: a short digest of names and values: a stored policy or stored actions are
            used only under the same signature.
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution], bins: int) -> None:
        self.names = sorted(search_space)
        self.values = [list(finite_levels(search_space[n], bins, geomspread))
                       for n in self.names]
        self.sizes = [len(v) for v in self.values]
        text = json.dumps([[n, v] for n, v in zip(self.names, self.values)])
        self.signature = hashlib.sha256(text.encode()).hexdigest()[:16]

    def decode(self, actions: list[int]) -> dict[str, Any]:
        """The design of an action sequence."""
        return {n: v[a] for n, v, a in zip(self.names, self.values, actions)}

    def matches(self, actions: list[int], params: Mapping[str, Any]) -> bool:
        """Whether a trial's ``params`` are the design of ``actions`` (not, e.g., an enqueued
        trial's fixed values that overrode the sample)."""
        return len(actions) == len(self.names) and all(
            0 <= a < k and n in params and params[n] == v[a]
            for n, v, k, a in zip(self.names, self.values, self.sizes, actions))


class _Policy(torch.nn.Module):
    """Shared maths: per-parameter log-softmax and entropy over the concatenated logits."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.offsets = [int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])]

    def step_logits(self, actions: torch.Tensor) -> torch.Tensor:
        """(B, sum(sizes)) logits of every parameter along each of the (B, P) sequences."""
        raise NotImplementedError

    def evaluate(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability (B,) of each sequence and the summed entropy (B,) of its steps."""
        logits = self.step_logits(actions)
        logp = torch.zeros(len(actions))
        entropy = torch.zeros(len(actions))
        for t, (o, k) in enumerate(zip(self.offsets, self.sizes)):
            ls = torch.log_softmax(logits[:, o:o + k], dim=1)
            logp = logp + ls.gather(1, actions[:, t:t + 1]).squeeze(1)
            entropy = entropy - (ls.exp() * ls).sum(dim=1)
        return logp, entropy

    def sample(self, generator: torch.Generator) -> tuple[list[int], float]:
        """One action sequence drawn with ``generator`` and its log-probability."""
        raise NotImplementedError

    @staticmethod
    def _draw(logits: torch.Tensor, generator: torch.Generator) -> tuple[int, float]:
        """One action of a parameter's (k,) logits and its log-probability."""
        ls = torch.log_softmax(logits, dim=0)
        a = int(torch.multinomial(ls.exp(), 1, generator=generator))
        return a, float(ls[a])


class LSTMPolicy(_Policy):
    """The autoregressive LSTM controller (module docstring).

    Args:
        sizes: number of actions per step.
        hidden_size: LSTM state and embedding width.
        generator: initialises the weights (uniform in [-0.1, 0.1]).
    """

    def __init__(self, sizes: list[int], hidden_size: int, generator: torch.Generator) -> None:
        super().__init__(sizes)
        self.start = torch.nn.Parameter(torch.zeros(1, hidden_size))
        self.cell = torch.nn.LSTMCell(hidden_size, hidden_size)
        self.head = torch.nn.Linear(hidden_size, sum(sizes))      # all parameters' heads
        self.embed = torch.nn.Embedding(sum(sizes), hidden_size)  # all parameters' actions
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-0.1, 0.1, generator=generator)

    def step_logits(self, actions: torch.Tensor) -> torch.Tensor:
        B = len(actions)
        x = self.start.expand(B, -1)
        h = c = torch.zeros_like(x)
        out = []
        for t, (o, k) in enumerate(zip(self.offsets, self.sizes)):
            h, c = self.cell(x, (h, c))
            out.append(self.head(h)[:, o:o + k])
            x = self.embed(actions[:, t] + o)
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def sample(self, generator: torch.Generator) -> tuple[list[int], float]:
        x = self.start
        h = c = torch.zeros_like(x)
        actions, logp = [], 0.0
        for o, k in zip(self.offsets, self.sizes):
            h, c = self.cell(x, (h, c))
            a, lp = self._draw(self.head(h)[0, o:o + k], generator)
            actions.append(a)
            logp += lp
            x = self.embed(torch.tensor([a + o]))
        return actions, logp


class LogitsPolicy(_Policy):
    """Independent per-parameter logits, starting uniform (module docstring)."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__(sizes)
        self.logits = torch.nn.Parameter(torch.zeros(sum(sizes)))

    def step_logits(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(actions), -1)

    @torch.no_grad()
    def sample(self, generator: torch.Generator) -> tuple[list[int], float]:
        draws = [self._draw(self.logits[o:o + k], generator)
                 for o, k in zip(self.offsets, self.sizes)]
        return [a for a, _ in draws], float(sum(lp for _, lp in draws))


def make_policy(controller: str, sizes: list[int], hidden_size: int,
                generator: torch.Generator) -> _Policy:
    """A fresh policy of kind ``controller`` (one of :data:`CONTROLLERS`)."""
    if controller == "lstm":
        return LSTMPolicy(sizes, hidden_size, generator)
    return LogitsPolicy(sizes)
