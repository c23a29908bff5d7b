"""The thesis's tuned step sizes (appendix B, tables B.1 to B.3), by test code.

A test code is ``XyZ``: ``X`` the model (``NN`` CNN, ``P`` pixel), ``y`` the
penalization (1 or 3), ``Z`` the problem (A, B, D, E). Each entry is
``(max_iterations, seeds, best step size)`` as the tables list them: the
budget and seeds the search used, and the step size it found.
"""
from __future__ import annotations

__all__ = ["STEP_SIZES", "step_size", "case_code"]

_CODES = ("NN3A", "NN3B", "NN3D", "NN3E", "NN1A", "NN1B", "NN1D", "NN1E",
          "P3A", "P3B", "P3D", "P3E", "P1A", "P1B", "P1D", "P1E")

_TABLES = {
    # Table B.1: SGD (gd)
    "gd": [(500, 5, 2.5e-4), (500, 5, 4.3e-3), (400, 3, 1e-3), (400, 3, 1.3e-3),
           (500, 3, 0.252), (500, 3, 1.585), (200, 3, 1.995), (200, 3, 0.5),
           (500, 5, 0.1), (500, 5, 1.19), (200, 3, 1.0), (200, 3, 1.0),
           (100, 5, 10.0), (100, 5, 10.0), (150, 5, 7.94), (150, 5, 10.0)],
    # Table B.2: Hessian descent, m = 1 (HD_M1)
    "hd_m1": [(500, 5, 0.004), (500, 5, 0.016), (200, 3, 0.01), (200, 3, 0.016),
              (200, 3, 0.2), (200, 3, 0.5), (200, 3, 0.63), (200, 3, 0.63),
              (500, 5, 0.126), (500, 5, 0.398), (200, 3, 0.32), (200, 3, 0.4),
              (200, 3, 1.0), (200, 3, 0.63), (200, 3, 1.0), (200, 3, 1.26)],
    # Table B.3: Hessian descent, m = 10 (HD_M10)
    "hd_m10": [(500, 6, 0.005), (500, 6, 0.0063), (200, 3, 0.025), (200, 3, 0.02),
               (300, 6, 0.25), (300, 6, 0.32), (200, 3, 0.32), (200, 3, 0.4),
               (500, 6, 0.1), (500, 6, 0.25), (200, 3, 0.159), (200, 3, 0.032),
               (300, 6, 1.0), (300, 6, 0.79), (200, 3, 1.0), (200, 3, 0.79)],
}

STEP_SIZES = {table: dict(zip(_CODES, rows)) for table, rows in _TABLES.items()}


def case_code(model: str, penal: float, problem_code: str) -> str:
    """The thesis's code for a case, e.g. ``case_code('cnn', 3, 'A') == 'NN3A'``."""
    prefix = "P" if model == "pixel" else "NN"
    return f"{prefix}{int(penal)}{problem_code}"


def step_size(optimizer: str, model: str, penal: float, problem_code: str, m: int | None = None) -> float:
    """The tuned step size of ``gd`` or ``hd`` (m = 1 or 10) for a thesis case."""
    table = "gd" if optimizer == "gd" else f"hd_m{m}"
    if table not in STEP_SIZES:
        raise KeyError(f"the thesis tuned gd, hd with m=1 and hd with m=10; not {optimizer} m={m}")
    code = case_code(model, penal, problem_code)
    if code not in STEP_SIZES[table]:
        raise KeyError(f"no thesis step size for {code}; known codes: {', '.join(_CODES)}")
    return STEP_SIZES[table][code][2]


#: Table 3.2 (p = 3, medians over 10 seeds): problem -> {row: (CNNModel, PixelModel)}; GD short = 700 steps,
#: GD long = 2000, L-BFGS = 300 evaluations
TABLE_3_2 = {"A": {"L-BFGS": (54.61, 76.12), "GD short": (79.67, 89.49), "GD long": (73.9, 78.04)},
              "B": {"L-BFGS": (8.54, 9.16), "GD short": (13.62, 9.88), "GD long": (11.74, 9.28)},
              "D": {"L-BFGS": (30.68, 39.72), "GD short": (61.36, 46.53), "GD long": (49.34, 40.34)},
              "E": {"L-BFGS": (148.47, 169.07), "GD short": (275.93, 175.36), "GD long": (231.65, 163.01)}}
