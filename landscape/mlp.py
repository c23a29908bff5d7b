"""Coordinate MLPs (kind ``mlp``): a fully connected network from element coordinates to logits.

Following Dupuis and Jacot (NTK paper, seed 000): each element's centre
``p = (x, y)`` (in element units) is embedded, then passed through a network in
the NTK parameterization

    a_1 = sqrt((1 - beta^2) / n_0) W_0 e(p) + beta b_0
    a_{l+1} = sqrt((1 - beta^2) / n_l) W_l s(a_l) + beta b_l

with all ``W`` and ``b`` standard normal, so that the network acts on the
density like a filter given by its neural tangent kernel. Embeddings ``e``:

* ``raw``: the centred coordinates scaled by the larger side, in [-1, 1];
* ``torus``: ``r (cos(delta x), sin(delta x), cos(delta y), sin(delta y))`` with
  ``r = sqrt(2)``, so every point lies on the standard sphere of radius
  ``sqrt(n_0) = 2`` where the NTK parameterization gives unit-variance
  pre-activations, and the discretization angle
  ``delta = pi / max(height, width)`` by default (the grid covers about half of
  the torus, the paper's trade-off), which makes the limiting NTK translation
  invariant;
* ``fourier``: random Fourier features of a Gaussian kernel with length-scale
  ``ell`` (element units), ``sqrt(2) cos(omega' p + phase)``,
  ``omega ~ N(0, I / ell^2)``, ``phase ~ U[0, 2 pi)``, ``m`` features (again
  ``|e|^2 ~ m = n_0``: the standard sphere), so ``e(p)'e(q) / m`` approximates
  ``exp(-|p - q|^2 / (2 ell^2))``.

Activations: ``relu`` normalized as ``sqrt(2) max(0, x)``, and ``cosine``
``cos(nu x) / sqrt((1 + exp(-2 nu^2)) / 2)`` (unit second moment under a standard
normal input), whose frequency ``nu`` narrows the kernel. With ``centre=True``
(the paper's trick) the network's initial output is subtracted and
``logit(volfrac)`` added, so the initial density is the constant volume fraction.
The paper runs without the cone filter: use ``Objective(..., filter=False)``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["MLPModel", "embed", "EMBEDDINGS", "ACTIVATIONS"]

EMBEDDINGS = ("raw", "torus", "fourier")
ACTIVATIONS = ("relu", "cosine")


def embed(shape: tuple[int, int], embedding: str = "torus", angle: float | None = None,
          length_scale: float = 4.0, features: int = 256, generator: torch.Generator | None = None) -> torch.Tensor:
    """Embedded element centres, (height * width, d), row-major like the logits.

    Element ``(i, j)`` (row, column) has the centre ``p = (j + 0.5, i + 0.5)`` in element units; the
    embeddings are those of the module docstring (seed 000, the NTK paper's).

    Args:
        shape: the grid ``(height, width)`` in elements.
        embedding: ``"raw"`` (d = 2: the centred coordinates times ``2 / max(height, width)``),
            ``"torus"`` (d = 4: ``sqrt(2) (cos, sin)`` of ``delta x`` and ``delta y``) or ``"fourier"``
            (d = ``features``: ``sqrt(2) cos(omega' p + phase)``); default ``"torus"``.
        angle: the torus discretization angle ``delta`` in radians per element; None (the default) means
            ``pi / max(height, width)``. Only used by ``torus``.
        length_scale: the Fourier features' length-scale ``ell`` in elements, ``omega ~ N(0, I / ell^2)``
            (default 4.0). Only used by ``fourier``.
        features: the number ``m`` of Fourier features (default 256). Only used by ``fourier``.
        generator: the ``torch.Generator`` that draws ``omega`` and then ``phase``; None (the default) means
            a new one seeded with 0. Only used by ``fourier``.

    Returns:
        A float64 tensor of shape ``(height * width, d)``.

    Raises:
        ValueError: an unknown ``embedding``, or ``fourier`` with ``length_scale <= 0`` or ``features < 1``.
    """
    height, width = shape
    y, x = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    points = torch.as_tensor(np.stack([x.ravel(), y.ravel()], axis=1), dtype=torch.float64)
    if embedding == "raw":
        centre = torch.tensor([width / 2, height / 2], dtype=torch.float64)
        return (points - centre) * (2.0 / max(height, width))
    if embedding == "torus":
        delta = math.pi / max(height, width) if angle is None else float(angle)
        radius = math.sqrt(2.0)
        a = delta * points
        return radius * torch.stack([torch.cos(a[:, 0]), torch.sin(a[:, 0]), torch.cos(a[:, 1]),
                                     torch.sin(a[:, 1])], dim=1)
    if embedding == "fourier":
        if not length_scale > 0 or features < 1:
            raise ValueError(f"fourier needs length_scale > 0 and features >= 1, got {length_scale}, {features}")
        generator = generator or torch.Generator().manual_seed(0)
        omega = torch.randn((2, features), generator=generator, dtype=torch.float64) / length_scale
        phase = 2 * math.pi * torch.rand(features, generator=generator, dtype=torch.float64)
        return math.sqrt(2.0) * torch.cos(points @ omega + phase)
    raise ValueError(f"unknown embedding {embedding!r}; accepted: {', '.join(EMBEDDINGS)}")


class MLPModel(nn.Module):
    """Coordinate MLP in the NTK parameterization (see the module docstring).

    Every ``W`` and ``b`` is standard normal, drawn in float64 from a generator seeded with ``seed`` after
    the embedding's own draws (Fourier features), layer by layer: all weights, then all biases. The output
    layer has one unit and no activation. Its float64 parameters are converted by
    :func:`~landscape.models.build` according to the precision.

    Args:
        problem: the :class:`~landscape.problems.Problem`; its ``shape`` gives the grid, its ``volfrac``
            the centring offset.
        seed: the seed of the embedding's and the network's draws (None means 0; default 0).
        widths: the hidden layer widths ``n_1, ..., n_L``, positive integers (default (256, 256)).
        activation: ``"cosine"`` (the default) or ``"relu"``, both normalized as in the module docstring.
        frequency: the cosine activation's frequency ``nu`` (default 2.0); unused by ``relu``.
        beta: the bias weight of the NTK parameterization, in [0, 1) (default 0.1).
        embedding: ``"raw"``, ``"torus"`` (the default) or ``"fourier"``, see :func:`embed`.
        angle: the torus discretization angle (None, the default, means ``pi / max(height, width)``).
        length_scale: the Fourier features' length-scale in elements (default 4.0).
        features: the number of Fourier features (default 256).
        centre: subtract the initial network output and add ``logit(volfrac)`` (default True), so the
            initial density is the constant volume fraction.

    Attributes:
        inputs: the embedded element centres (buffer), ``(height * width, n_0)``.
        weight: the weights ``W_l``, each ``(n_{l+1}, n_l)``.
        bias: the biases ``b_l``, each ``(n_{l+1},)``.
        offset: the centring offset (buffer), ``(height, width)``; zeros when ``centre`` is False.

    Raises:
        ValueError: an unknown ``activation`` or ``embedding``, ``beta`` outside [0, 1), an empty or
            non-positive ``widths``, or invalid Fourier options.
    """

    def __init__(self, problem, seed=0, widths=(256, 256), activation: str = "cosine", frequency: float = 2.0,
                 beta: float = 0.1, embedding: str = "torus", angle: float | None = None,
                 length_scale: float = 4.0, features: int = 256, centre: bool = True):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; accepted: {', '.join(ACTIVATIONS)}")
        if not 0 <= beta < 1:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be positive integers, got {widths!r}")
        self.shape = tuple(problem.shape)
        self.activation, self.frequency, self.beta = activation, float(frequency), float(beta)
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.register_buffer("inputs", embed(self.shape, embedding, angle, length_scale, features, gen))
        sizes = (self.inputs.shape[1],) + widths + (1,)
        self.weight = nn.ParameterList(
            nn.Parameter(torch.randn((n_out, n_in), generator=gen, dtype=torch.float64))
            for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.bias = nn.ParameterList(
            nn.Parameter(torch.randn(n_out, generator=gen, dtype=torch.float64)) for n_out in sizes[1:])
        self.centre = centre
        offset = torch.zeros(self.shape, dtype=torch.float64)
        if centre:
            with torch.no_grad():
                offset = math.log(problem.volfrac / (1 - problem.volfrac)) - self.network()
        self.register_buffer("offset", offset)

    def _sigma(self, a):
        if self.activation == "relu":
            return math.sqrt(2.0) * torch.relu(a)
        nu = self.frequency
        return torch.cos(nu * a) / math.sqrt((1 + math.exp(-2 * nu * nu)) / 2)

    def network(self) -> torch.Tensor:
        """The raw network output on the grid (height, width), before the centring offset.

        Computes ``a_{l+1} = sqrt((1 - beta^2) / n_l) W_l s(a_l) + beta b_l`` layer by layer from the
        embedded inputs, with no activation after the last layer.

        Returns:
            The output tensor, shape (height, width).
        """
        scale = math.sqrt(1 - self.beta ** 2)
        h = self.inputs
        last = len(self.weight) - 1
        for i, (w, b) in enumerate(zip(self.weight, self.bias)):
            h = scale / math.sqrt(w.shape[1]) * (h @ w.T) + self.beta * b
            if i < last:
                h = self._sigma(h)
        return h.reshape(self.shape)

    def forward(self):
        """The logits, shape (height, width): :meth:`network` plus the centring offset."""
        return self.network() + self.offset
