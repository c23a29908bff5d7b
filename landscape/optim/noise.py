"""Gradient noise around any optimizer: SGD's noise, simulated on the full-batch objective.

The thesis (section 4.1) suggests that SGD's gradient noise, absent from
topology optimization, could be studied by "adding noise of different
structures and magnitudes to the gradient calculation". :class:`NoisyGradient`
does that for any optimizer that evaluates the objective through
``value_and_grad`` (GD, GD_LS, HD, L-BFGS, SciPy's L-BFGS-B, Adam): the
optimizer sees ``g + n`` where ``g`` is the exact gradient; the loss stays exact.

The noise ``n`` has a size relative to the gradient, ``E |n|^2 = scale^2 |g|^2`` (``scale`` is the option
``noise_scale``),
and one of three structures (``z`` standard normal, ``N`` parameters):

``gaussian``         ``n = scale |g| z / sqrt(N)``                  isotropic
``multiplicative``   ``n = scale g * z``                            per coordinate, zero where g is
``hessian_diagonal`` ``n = scale |g| (sqrt|D| * z) / |sqrt|D||``     larger where the curvature is

with ``D`` Hutchinson's estimate of the Hessian's diagonal (Bekas, Kokiopoulou
and Saad 2007), ``D = mean_k v_k * (H v_k)`` over ``samples`` Rademacher
vectors ``v_k`` (``noise_samples``), made at the evaluated point and refreshed every
``noise_refresh`` evaluations (each refresh costs that many Hessian-vector products). The noise
is drawn from its own seeded generator, in the order of the evaluations, so a
noisy run is reproducible; with ``noise_scale = 0`` no noise is added and the run is
the wrapped optimizer's, bit for bit.

What a trace records under noise: the loss is exact; the gradient norm is the
norm of the gradient the optimizer saw (``g + n``); probes see the exact objective.
"""
from __future__ import annotations

import math

import torch

from .base import Optimizer, OptimizerError, Step, check_count, check_positive
from .directions import hessian_diagonal

__all__ = ["NoisyGradient", "NOISE_KINDS", "noisy"]

NOISE_KINDS = ("gaussian", "multiplicative", "hessian_diagonal")


class GradientNoise:
    """Draws the noise of one run (see the module docstring for the formulas).

    Args:
        kind: one of :data:`NOISE_KINDS`.
        scale: the noise's size relative to ``|g|`` (root mean square), a finite number >= 0.
        seed: the seed of the noise's own generator.
        samples: Rademacher vectors per Hutchinson estimate of the diagonal (``hessian_diagonal`` only).
        refresh: evaluations between two estimates of the diagonal (``hessian_diagonal`` only).
    """

    def __init__(self, kind: str, scale: float, seed: int, samples: int = 4, refresh: int = 10):
        self.kind, self.scale, self.samples, self.refresh = kind, scale, samples, refresh
        self.generator = torch.Generator().manual_seed(seed)
        self.evaluations = 0
        self.shape: torch.Tensor | None = None     # sqrt|D| / |sqrt|D||, for hessian_diagonal

    def __call__(self, objective, theta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The noise to add to ``grad``, the exact gradient at ``theta`` (zeros when ``scale`` is 0)."""
        self.evaluations += 1
        if self.scale == 0.0:
            return torch.zeros_like(grad)
        z = torch.randn(grad.shape, generator=self.generator, dtype=grad.dtype)
        if self.kind == "gaussian":
            return (self.scale * float(grad.norm()) / math.sqrt(grad.numel())) * z
        if self.kind == "multiplicative":
            return self.scale * grad * z
        if self.shape is None or (self.evaluations - 1) % self.refresh == 0:
            self.shape = self._curvature_shape(objective, theta)
        return (self.scale * float(grad.norm())) * self.shape * z

    def _curvature_shape(self, objective, theta):
        root = hessian_diagonal(objective, theta, self.samples, self.generator).abs().sqrt()
        norm = float(root.norm())
        if norm == 0.0 or not math.isfinite(norm):   # no curvature seen: fall back to isotropic
            return torch.full_like(theta, 1.0 / math.sqrt(theta.numel()))
        return root / norm


class _NoisyObjective:
    """``objective`` with noise added to every gradient that ``value_and_grad`` returns; the rest delegated."""

    def __init__(self, objective, noise: GradientNoise):
        self._objective, self._noise = objective, noise

    def value_and_grad(self, theta):
        loss, grad = self._objective.value_and_grad(theta)
        return loss, grad + self._noise(self._objective, torch.as_tensor(theta, dtype=grad.dtype), grad)

    def __getattr__(self, name):
        return getattr(self._objective, name)


class NoisyGradient(Optimizer):
    """Any optimizer, fed noisy gradients (module docstring): registered as ``noisy``.

    The noise's options are prefixed ``noise`` so that they never clash with the wrapped optimizer's (which are
    recorded beside them).

    Args:
        base: the wrapped optimizer, an :class:`Optimizer` that evaluates through ``value_and_grad`` (not a
            pixel-only density method such as OC or MMA, which compute their own sensitivities).
        noise: the noise's structure, one of :data:`NOISE_KINDS` (default ``"gaussian"``).
        noise_scale: its root-mean-square size relative to ``|g|``, a finite number >= 0 (default 0: none).
        noise_seed: the noise generator's seed, an integer >= 0 (default 0).
        noise_samples: Rademacher vectors per estimate of the Hessian's diagonal, an integer >= 1 (default 4).
        noise_refresh: evaluations between two estimates of the diagonal, an integer >= 1 (default 10).

    Raises:
        OptimizerError: a pixel-only ``base``, an unknown ``kind``, or an option out of range.
    """

    name = "noisy"

    def __init__(self, base: Optimizer, noise: str = "gaussian", noise_scale: float = 0.0, noise_seed: int = 0,
                 noise_samples: int = 4, noise_refresh: int = 10):
        if base.pixel_only:
            raise OptimizerError(f"noisy: {base.name!r} computes its own sensitivities of the densities, so its "
                                 f"gradient cannot be made noisy; wrap one of gd, gd_ls, hd, lbfgs, pgd, scipy_lbfgsb, "
                                 f"adam")
        if noise not in NOISE_KINDS:
            raise OptimizerError(f"noisy: noise must be one of {', '.join(NOISE_KINDS)}, got {noise!r}")
        own = {"noise": noise,
               "noise_scale": check_positive("noisy", "noise_scale", noise_scale, allow_zero=True),
               "noise_seed": check_count("noisy", "noise_seed", noise_seed),
               "noise_samples": check_count("noisy", "noise_samples", noise_samples, minimum=1),
               "noise_refresh": check_count("noisy", "noise_refresh", noise_refresh, minimum=1)}
        super().__init__(base=base.name, **own, **base.options)
        self.base = base

    def start(self, objective, theta0=None, steps: int | None = None) -> Step:
        """Start the wrapped optimizer on ``objective`` with noisy gradients and a fresh noise generator.

        Args and returns as :meth:`Optimizer.start`.
        """
        self.objective = objective
        o = self.options
        self.noise = GradientNoise(o["noise"], o["noise_scale"], o["noise_seed"], o["noise_samples"],
                                   o["noise_refresh"])
        first = self.base.start(_NoisyObjective(objective, self.noise), theta0, steps)
        self.steps_taken, self.evaluations = 0, self.base.evaluations
        return first

    def _step(self) -> Step:
        record = self.base.step()
        self.evaluations = self.base.evaluations
        return record

    def memory(self):
        """The wrapped optimizer's curvature memory (built from the noisy gradients)."""
        return self.base.memory()

    def close(self) -> None:
        """Close the wrapped optimizer."""
        self.base.close()


def noisy(base: str = "gd", noise: str = "gaussian", noise_scale: float = 0.0, noise_seed: int = 0,
          noise_samples: int = 4, noise_refresh: int = 10, **base_options) -> NoisyGradient:
    """The optimizer ``base`` (a name of :func:`landscape.optim.build`) with noisy gradients.

    Example: ``build("noisy", base="gd_ls", noise="multiplicative", noise_scale=0.5, noise_seed=3)``.

    Args:
        base: the wrapped optimizer's name (default ``"gd"``).
        noise: the noise's structure, one of :data:`NOISE_KINDS` (default ``"gaussian"``).
        noise_scale: its root-mean-square size relative to ``|g|``, >= 0 (default 0: none).
        noise_seed: the noise generator's seed (default 0).
        noise_samples: Rademacher vectors per estimate of the Hessian's diagonal (default 4).
        noise_refresh: evaluations between two estimates of the diagonal (default 10).
        **base_options: the wrapped optimizer's options (e.g. ``lr``, ``m``), checked by its own factory.

    Returns:
        A :class:`NoisyGradient`, named ``noisy``, whose options are its own and the wrapped optimizer's.

    Raises:
        OptimizerError: an unknown ``base`` or options it refuses, or bad noise options.
    """
    from . import build
    if base == "noisy":
        raise OptimizerError("noisy: base must be another optimizer, not noisy itself")
    return NoisyGradient(build(base, **base_options), noise, noise_scale, noise_seed, noise_samples, noise_refresh)
