"""The network-family registry: a family turns a design's NAS parameters into a layer list.

A family module defines a key function (NAS parameters → hashable key whose first item is the
family name) and a builder (key → layers), and registers them with :func:`register_family`.
Everything downstream (cost models, surrogates, accuracy sources) asks by family name through
:func:`build_network` / :func:`network_matrix`, which cache on the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np

from .._lazy import BuiltinModules
from .layers import Layer, layer_matrix

__all__ = ["Family", "build_network", "get_family", "layers_of_key", "list_families",
           "matrix_of_key", "nas_key", "network_identity", "network_matrix", "register_family",
           "summarize"]


@dataclass(frozen=True)
class Family:
    """A searchable network family.

    Attributes:
        name: the name spaces give as ``network = "..."``.
        key: NAS parameters (a design dict; other keys ignored) → hashable key, ``key[0] ==
            name``; raises ValueError on a missing or invalid parameter.
        build: key → the network's layers in execution order.
        matrix: optional key → :func:`~moo_cosearch.networks.layers.layer_matrix` of the
            network, for families that can assemble it faster than building every layer.
        description: one line for listings.
        identity: optional key → a string naming the network up to isomorphism (two keys
            with one identity compute the same function, e.g. NB201 cells that differ only in
            dead edges); default ``repr(key)``. Accuracy caches share entries by it.
    """

    name: str
    key: Callable[[Mapping[str, object]], tuple]
    build: Callable[[tuple], Sequence[Layer]]
    matrix: Callable[[tuple], np.ndarray] | None = None
    description: str = ""
    identity: Callable[[tuple], str] | None = None


#: Modules of this package that register the built-in families, imported on the first look at
#: the registry (so ``import moo_cosearch`` builds no network).
BUILTIN_MODULES = ("mbconv", "nb201", "fpga", "nasaic", "anb")

_FAMILIES: dict[str, Family] = {}
_BUILTINS = BuiltinModules(__package__, BUILTIN_MODULES)


def _families() -> dict[str, Family]:
    """The registry, after the built-in modules registered themselves (once)."""
    _BUILTINS.load()
    return _FAMILIES


def register_family(family: Family) -> Family:
    """Make ``family`` available by name (replacing a family of the same name)."""
    _FAMILIES[family.name] = family
    layers_of_key.cache_clear()
    matrix_of_key.cache_clear()
    return family


def list_families() -> list[str]:
    """Names of the registered families."""
    return sorted(_families())


def get_family(name: str) -> Family:
    """The family registered as ``name``; ValueError listing the known ones otherwise."""
    try:
        return _families()[name]
    except (KeyError, TypeError):
        raise ValueError(f"network family must be one of {list_families()}, "
                         f"got {name!r}") from None


def nas_key(family: str, params: Mapping[str, object]) -> tuple:
    """Hashable key of the NAS parameters in ``params`` that determine ``family``'s network
    (other keys, e.g. hardware parameters, are ignored)."""
    return get_family(family).key(params)


def network_identity(family: str, params: Mapping[str, object]) -> str:
    """A string naming ``family``'s network of ``params`` up to isomorphism (see
    :class:`Family`); designs with one identity have one accuracy."""
    fam = get_family(family)
    key = fam.key(params)
    return f"{family}:{fam.identity(key)}" if fam.identity is not None else repr(key)


@lru_cache(maxsize=4096)
def layers_of_key(key: tuple) -> tuple[Layer, ...]:
    """The layers of the network a :func:`nas_key` describes (cached, immutable)."""
    return tuple(get_family(key[0]).build(key))


@lru_cache(maxsize=4096)
def matrix_of_key(key: tuple) -> np.ndarray:
    """:func:`layers_of_key` as a read-only layer matrix (cached)."""
    fam = get_family(key[0])
    m = fam.matrix(key) if fam.matrix is not None else layer_matrix(layers_of_key(key))
    m.setflags(write=False)
    return m


def build_network(family: str, params: Mapping[str, object]) -> tuple[Layer, ...]:
    """Build the network of a joint-space point (cached on :func:`nas_key`).

    Args:
        family: a registered family name (:func:`list_families`).
        params: parameter dict; the family's key function says which keys it reads.

    Returns:
        The layers as an immutable tuple (shared between calls with the same NAS params).

    Raises:
        ValueError: on an unknown family or missing / invalid NAS values.
    """
    return layers_of_key(nas_key(family, params))


def network_matrix(family: str, params: Mapping[str, object]) -> np.ndarray:
    """:func:`build_network` as a read-only layer matrix (cached), ready for
    :func:`~moo_cosearch.networks.layers.stack_matrices`."""
    return matrix_of_key(nas_key(family, params))


def summarize(layers: Sequence[Layer]) -> tuple[int, int]:
    """Total (MACs, params) of a network."""
    return sum(layer.macs for layer in layers), sum(layer.params for layer in layers)
