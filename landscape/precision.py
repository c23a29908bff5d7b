"""Network precision: which dtype a parameterization's parameters take.

``"mixed"`` runs the network in float32 over float64 physics (Hoyer et al.'s
and the thesis's setting, and the default of :func:`landscape.models.build`);
``"float64"`` runs everything in float64. The cast between the two sits at the
network's output, in :meth:`landscape.Objective.logits`.
"""
from __future__ import annotations

import torch

__all__ = ["PRECISIONS", "network_dtype"]

PRECISIONS = ("mixed", "float64")
_DTYPES = {"mixed": torch.float32, "float64": torch.float64}


def network_dtype(model: torch.nn.Module, precision: str | None) -> torch.dtype:
    """The dtype ``model``'s parameters take under ``precision`` (None: keep the module's own).

    Modules without a network (``has_network = False``, like ``pixel``) stay float64.
    """
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; accepted: {', '.join(PRECISIONS)}")
    if not getattr(model, "has_network", True):
        return torch.float64
    if precision is None:
        dtypes = {p.dtype for p in model.parameters()}
        if dtypes - {torch.float32, torch.float64} or len(dtypes) > 1:
            raise ValueError(f"the model's parameters have dtypes {sorted(map(str, dtypes))}; give "
                             f"precision='mixed' (float32 network) or 'float64'")
        return dtypes.pop() if dtypes else torch.float64
    return _DTYPES[precision]
