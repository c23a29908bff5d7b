"""Hutchinson estimates of the Hessian's trace and Frobenius norm, and their ratio.

For random ``v`` with ``E[v v'] = I`` (Rademacher signs or standard normal):

    E[v' H v] = tr(H)               (Hutchinson 1989)
    E[|H v|^2] = tr(H'H) = |H|_F^2

so the sample means over ``samples`` vectors estimate both, with standard errors
``std / sqrt(samples)``; the Frobenius norm is the square root, its standard
error by the delta method ``se(|H|_F^2) / (2 |H|_F)``. Fort and Ganguli (2019)
track the ratio ``tr(H) / |H|_F`` (1/sqrt(n) for isotropic curvature, 1 when
one direction dominates). All products are taken in blocks of ``block``
vectors with the objective's block Hessian-vector product.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .linalg import rademacher

__all__ = ["Estimate", "HutchinsonResult", "hutchinson", "random_probes"]


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo sample mean with its standard error.

    ``str()`` gives ``"value +- stderr (samples samples)"``.

    Attributes:
        value: the estimate (the sample mean; for :attr:`HutchinsonResult.frobenius`, the square root of
            one).
        stderr: its standard error (``std / sqrt(samples)`` with the unbiased ``std``; by the delta
            method for the Frobenius norm); NaN when it cannot be formed.
        samples: the number of random vectors behind the estimate.
    """

    value: float
    stderr: float
    samples: int

    def __str__(self):
        return f"{self.value:.6g} +- {self.stderr:.2g} ({self.samples} samples)"


@dataclass(frozen=True)
class HutchinsonResult:
    """What :func:`hutchinson` returns: the estimates and the per-sample values behind them.

    Attributes:
        trace: ``tr(H) ~ mean_i v_i' H v_i`` (thesis eq. 2.10).
        frobenius: ``|H|_F``, the square root of :attr:`frobenius_squared`, with the delta-method
            standard error ``se(|H|_F^2) / (2 |H|_F)`` (NaN when the norm is 0).
        frobenius_squared: ``|H|_F^2 ~ mean_i |H v_i|^2`` (thesis eq. 2.11).
        ratio: ``tr(H) / |H|_F`` (Fort and Ganguli 2019; NaN when the norm is 0).
        quadratic_forms: ``v_i' H v_i`` per sample, a float64 tensor ``(samples,)``.
        squared_norms: ``|H v_i|^2`` per sample, a float64 tensor ``(samples,)``.
    """

    trace: Estimate
    frobenius: Estimate          # |H|_F
    frobenius_squared: Estimate  # E|Hv|^2
    ratio: float                 # tr(H) / |H|_F
    quadratic_forms: torch.Tensor  # v'Hv per sample
    squared_norms: torch.Tensor    # |Hv|^2 per sample


def random_probes(n: int, k: int, generator: torch.Generator, distribution: str = "rademacher") -> torch.Tensor:
    """``k`` random vectors of length ``n`` with ``E[v v'] = I``, the columns of an ``(n, k)`` float64 tensor.

    Args:
        n: the length of each vector (the operator's dimension).
        k: how many vectors (columns).
        generator: the ``torch.Generator`` the entries are drawn from (it advances).
        distribution: ``"rademacher"`` (default; entries +-1 with equal probability) or ``"gaussian"``
            (standard normal entries).

    Returns:
        The ``(n, k)`` float64 tensor of probe vectors.

    Raises:
        ValueError: ``distribution`` is neither ``"rademacher"`` nor ``"gaussian"``.
    """
    if distribution == "rademacher":
        return rademacher(n, k, generator)
    if distribution == "gaussian":
        return torch.randn((n, k), generator=generator, dtype=torch.float64)
    raise ValueError(f"distribution must be 'rademacher' or 'gaussian', got {distribution!r}")


def _mean(values: torch.Tensor) -> Estimate:
    n = values.numel()
    stderr = float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.nan
    return Estimate(float(values.mean()), stderr, n)


def hutchinson(operator, samples: int = 50, seed: int = 0, distribution: str = "rademacher",
               block: int | None = None) -> HutchinsonResult:
    """Trace and Frobenius norm of a symmetric operator from ``samples`` random products.

    Hutchinson's estimator (Hutchinson 1989; thesis eq. 2.10) ``tr(H) ~ (1/s) sum_i v_i' H v_i`` and
    the Frobenius estimate of thesis eq. 2.11, ``|H|_F^2 ~ (1/s) sum_i |H v_i|^2``, from the same
    ``s = samples`` vectors ``v_i`` of :func:`random_probes`; ``|H|_F`` is the square root (its standard
    error by the delta method) and ``ratio = tr(H) / |H|_F`` follows Fort and Ganguli (2019). The
    vectors are drawn one at a time from a generator seeded with ``seed``, so the estimates do not
    depend on ``block``.

    Args:
        operator: a symmetric operator with ``shape`` ``(n, n)`` and ``matmat`` on an ``(n, k)`` block
            (e.g. ``objective.hessian(theta)``, a :class:`landscape.operators.LinearOperator`).
        samples: the number of random vectors, an integer >= 2 (default 50, the thesis's).
        seed: seed of the ``torch.Generator`` the vectors come from (default 0).
        distribution: ``"rademacher"`` (default) or ``"gaussian"``, see :func:`random_probes`.
        block: how many vectors go into one ``matmat`` call (converted with ``int``); None (default)
            takes all ``samples`` in one block.

    Returns:
        A :class:`HutchinsonResult` with the trace, Frobenius norm (and its square) estimates, the
        ratio and the per-sample values.

    Raises:
        ValueError: ``samples`` is not an integer >= 2, ``block`` is below 1, or ``distribution`` is
            unknown.
    """
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2 (for a standard error), got {samples!r}")
    block = samples if block is None else int(block)
    if block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    n = operator.shape[0]
    generator = torch.Generator().manual_seed(seed)
    forms, norms = [], []
    done = 0
    while done < samples:
        k = min(block, samples - done)
        # one vector at a time from the generator, so the samples do not depend on the block size
        V = torch.stack([random_probes(n, 1, generator, distribution)[:, 0] for _ in range(k)], dim=1)
        HV = operator.matmat(V)
        forms.append((V * HV).sum(dim=0))
        norms.append((HV * HV).sum(dim=0))
        done += k
    forms_t, norms_t = torch.cat(forms), torch.cat(norms)
    trace = _mean(forms_t)
    squared = _mean(norms_t)
    frob = math.sqrt(max(squared.value, 0.0))
    frobenius = Estimate(frob, squared.stderr / (2 * frob) if frob > 0 else math.nan, samples)
    ratio = trace.value / frob if frob > 0 else math.nan
    return HutchinsonResult(trace, frobenius, squared, ratio, forms_t, norms_t)
