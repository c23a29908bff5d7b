"""Design transforms: logits -> constrained density -> masked, cone-filtered physical density.

Following Hoyer et al. (2019), eq. (2), and their public code:

1. ``sigmoid_with_constrained_mean``: ``x_i = sigmoid(z_i + b(z))`` on the design
   region, with the scalar bias ``b`` chosen by bisection so that the mean
   density equals the volume fraction. Derivatives of ``b`` come from the
   implicit function theorem applied to ``F(z, b) = mean(sigmoid(z + b)) - V = 0``:
   ``db/dz_i = -s'_i / sum_j s'_j`` with ``s' = sigmoid'(z + b)``. The rule is
   written in differentiable torch operations of ``z`` and ``b(z)`` itself, so
   differentiating it again yields the exact second derivative (the full
   implicit formula, including the dependence of ``b`` inside ``s'``).
2. the design mask: elements outside it are empty,
3. the cone filter of radius 2 with Hoyer's normalization: the raw filter
   ``W_ij = max(0, r - |i - j|)`` (rows only inside the mask, columns only
   inside the grid) scaled by the inverse *column* sums. For a cone kernel
   that is ``y = [mask] * conv(x) / conv([mask])``, a zero-padded convolution.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["physical_density", "sigmoid_with_constrained_mean", "constrained_bias", "cone_filter",
           "cone_kernel", "FILTER_RADIUS"]

FILTER_RADIUS = 2.0


def _bisect_bias(z: torch.Tensor, target: float, max_iter: int = 200) -> torch.Tensor:
    """Bias ``b`` (shape ``z.shape[:-1]``) with ``mean(sigmoid(z + b)) = target``, by bisection.

    The bracket ``[logit(V) - max z, logit(V) - min z]`` always holds the root,
    and the mean is increasing in ``b``. Bisection runs until the bracket
    cannot shrink in floating point (about 60 halvings), so ``b`` is exact to
    the last bit and the loss carries no root-finding noise.
    """
    logit = math.log(target) - math.log1p(-target)
    lo = logit - z.amax(-1)
    hi = logit - z.amin(-1)
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if torch.all((mid <= lo) | (mid >= hi)):
            break
        above = torch.sigmoid(z + mid[..., None]).mean(-1) > target
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
    return 0.5 * (lo + hi)


class _ConstrainedBias(torch.autograd.Function):
    """``b(z)`` solving ``mean(sigmoid(z + b)) = V`` over the last axis, with implicit derivatives."""

    @staticmethod
    def forward(z, target):
        return _bisect_bias(z.detach(), target)

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, _ = inputs
        ctx.save_for_backward(z, output)
        ctx.save_for_forward(z, output)

    @staticmethod
    def _slope(z, b):
        s = torch.sigmoid(z + b[..., None])
        ds = s * (1 - s)
        return ds / ds.sum(-1, keepdim=True)

    @staticmethod
    def backward(ctx, grad_b):
        z, b = ctx.saved_tensors
        return -grad_b[..., None] * _ConstrainedBias._slope(z, b), None

    @staticmethod
    def jvp(ctx, dz, _):
        z, b = ctx.saved_tensors
        return -(_ConstrainedBias._slope(z, b) * dz).sum(-1)

    @staticmethod
    def vmap(info, in_dims, z, target):
        z_dim, _ = in_dims
        if z_dim is None:
            return _ConstrainedBias.apply(z, target), None
        return _ConstrainedBias.apply(z.movedim(z_dim, 0), target), 0


def constrained_bias(z: torch.Tensor, volfrac: float) -> torch.Tensor:
    """The bias ``b(z)`` of :func:`sigmoid_with_constrained_mean` (over the last axis).

    Found by bisection to the last bit; its derivatives come from the implicit function theorem,
    ``db/dz_i = -s'_i / sum_j s'_j`` (see the module docstring), in both autograd modes.

    Args:
        z: logits, shape ``(..., n)``; the constraint acts on the last axis.
        volfrac: the target mean density ``V`` in (0, 1).

    Returns:
        The bias, shape ``z.shape[:-1]``.

    Raises:
        ValueError: ``volfrac`` outside (0, 1), or non-finite logits.
    """
    if not 0.0 < volfrac < 1.0:
        raise ValueError(f"volume fraction must lie in (0, 1), got {volfrac!r}")
    if not torch.all(torch.isfinite(z)):
        raise ValueError("logits contain NaN or inf")
    return _ConstrainedBias.apply(z, float(volfrac))


def sigmoid_with_constrained_mean(z: torch.Tensor, volfrac: float) -> torch.Tensor:
    """``sigmoid(z + b(z))`` whose mean over the last axis equals ``volfrac``.

    Hoyer et al. (2019), eq. (2); ``b`` is :func:`constrained_bias`, so the result is differentiable to
    any order.

    Args:
        z: logits, shape ``(..., n)``; the constraint acts on the last axis.
        volfrac: the target mean ``V`` in (0, 1).

    Returns:
        The densities in (0, 1), the shape of ``z``.

    Raises:
        ValueError: ``volfrac`` outside (0, 1), or non-finite logits.
    """
    return torch.sigmoid(z + constrained_bias(z, volfrac)[..., None])


def cone_kernel(radius: float = FILTER_RADIUS, dtype=torch.float64) -> torch.Tensor:
    """The cone ``max(0, r - sqrt(dx^2 + dy^2))`` on a ``(2 ceil(r) + 1)``-square stencil.

    Args:
        radius: the cone's radius ``r`` in elements (default 2, Hoyer et al.'s).
        dtype: the tensor's dtype (default float64).

    Returns:
        The unnormalized weights, shape ``(2 ceil(r) + 1, 2 ceil(r) + 1)``.
    """
    reach = int(np.ceil(radius))
    d = np.arange(-reach, reach + 1)
    weights = np.maximum(0.0, radius - np.hypot(d[:, None], d[None, :]))
    return torch.as_tensor(weights, dtype=dtype)


def _convolve(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    shape = x.shape
    out = F.conv2d(x.reshape((-1, 1) + shape[-2:]), kernel[None, None], padding=kernel.shape[-1] // 2)
    return out.reshape(shape)


def cone_filter(x: torch.Tensor, mask: torch.Tensor | None = None,
                radius: float = FILTER_RADIUS) -> torch.Tensor:
    """Hoyer's normalized cone filter of ``x`` (..., height, width); see the module docstring.

    ``y = [mask] * conv(x, cone) / conv([mask], cone)``: a zero-padded convolution scaled by the
    inverse column sums of Hoyer et al.'s filter matrix, and zero outside the mask.

    Args:
        x: densities, shape ``(..., height, width)``.
        mask: boolean design region of shape ``(height, width)``; None (default) is the whole grid.
        radius: the cone's radius (default 2).

    Returns:
        The filtered densities, the shape of ``x``.
    """
    kernel = cone_kernel(radius, x.dtype)
    if mask is None:
        mask = torch.ones(x.shape[-2:], dtype=torch.bool)
    inside = mask.to(x.dtype)
    weight = _convolve(inside, kernel)
    scale = torch.where(mask, 1.0 / torch.where(mask, weight, 1.0), 0.0)
    return scale * _convolve(x, kernel)


def physical_density(problem, x: torch.Tensor, volume_constraint: bool = True,
                     filter: bool = True) -> torch.Tensor:   # noqa: A002 - the design card's name
    """Logits ``x`` (..., height, width) -> physical density of ``problem``.

    With ``volume_constraint`` the design-region elements become
    ``sigmoid(x + b)`` with mean exactly ``problem.volfrac``, and the rest 0;
    without it ``x`` is only multiplied by the mask. With ``filter`` the result
    is passed through the cone filter of radius 2.

    Args:
        problem: the :class:`~landscape.problems.Problem` (its shape, mask and volume fraction).
        x: logits (or, without ``volume_constraint``, densities), shape ``(..., height, width)``.
        volume_constraint: apply the constrained sigmoid (default True).
        filter: apply :func:`cone_filter` with :data:`FILTER_RADIUS` inside the design mask (default True).

    Returns:
        The physical densities, the shape of ``x``; zero outside the design mask.

    Raises:
        ValueError: ``x`` whose last two dimensions are not the problem's shape, or (with
            ``volume_constraint``) non-finite logits in the design region.
    """
    if tuple(x.shape[-2:]) != problem.shape:
        raise ValueError(f"logits must have shape (..., {problem.height}, {problem.width}) for "
                         f"{problem.name or 'this problem'}, got {tuple(x.shape)}")
    mask = torch.as_tensor(problem.design_mask)
    if volume_constraint:
        inside = torch.as_tensor(np.flatnonzero(problem.design_mask))
        flat = x.reshape(x.shape[:-2] + (-1,))
        bias = constrained_bias(flat[..., inside], problem.volfrac)
        x = torch.where(mask, torch.sigmoid(x + bias[..., None, None]), 0.0)
    else:
        x = torch.where(mask, x * torch.as_tensor(np.broadcast_to(problem.mask, problem.shape).copy()), 0.0)
    if filter:
        x = cone_filter(x, mask)
    return x
