"""Landscape and curvature probes: pure functions on any operator or objective, and recordable Probe classes.

Curvature (this package's first half):

* :mod:`probes.linalg`: Lanczos with full reorthogonalization, extreme eigenpairs.
* :mod:`probes.hutchinson`: trace and Frobenius norm estimates, and their ratio.
* :mod:`probes.directional`: gradient-Hessian overlap, curvature along a direction.
* :mod:`probes.slq`: stochastic Lanczos quadrature eigenvalue densities.
* :mod:`probes.lbfgs_matrix`: the L-BFGS matrix B (compact form) and H (two loops) as operators.
* :mod:`probes.density_hessian`: the Hessian with respect to the physical densities.
* :mod:`probes.base`: the probe protocol and the :class:`Probe` base class.
* :mod:`probes.curvature`: the recordable probes over these.

Geometry and trajectories (the second half; import these modules directly, the
names below are not re-exported here):

* :mod:`probes.geometry`: 1D interpolations, filter-normalized directions, 2D surfaces and planes.
* :mod:`probes.connectivity`: mode connectivity, a trained Bezier curve between two minima against the
  straight line, for two points or two traces.
* :mod:`probes.sensitivity`: twin runs from starts a relative epsilon apart, their separation and
  finite-time Lyapunov exponent.
* :mod:`probes.trajectory`: PCA of the iterates, per-iterate metrics, and :class:`~probes.trajectory.TrajectoryProbe`.
* :mod:`probes.ntk`: the empirical neural tangent kernel as an operator, and
  :class:`~probes.ntk.NTKProbe`.
* :mod:`probes.plots`: figures of the geometry probes, and the ``pca``, ``surface`` and
  ``interpolation`` plot kinds of ``landscape plot``.
"""
from .base import Probe
from .curvature import BvsHProbe, EigenvalueProbe, HessianDensityProbe, HutchinsonProbe, LBFGSDensityProbe, OverlapProbe
from .density_hessian import DensityHessian, density_hessian
from .directional import curvature_along, gradient_hessian_overlap
from .hutchinson import Estimate, HutchinsonResult, hutchinson
from .lbfgs_matrix import CompactLBFGS, InverseLBFGS
from .linalg import DenseOperator, Eigenpairs, Lanczos, extreme_eigenpairs, lanczos
from .slq import GHORBANI, THESIS, Density, slq, smoothed_density

__all__ = ["Probe", "HutchinsonProbe", "EigenvalueProbe", "OverlapProbe", "HessianDensityProbe",
           "LBFGSDensityProbe", "BvsHProbe", "DensityHessian", "density_hessian", "curvature_along",
           "gradient_hessian_overlap", "Estimate", "HutchinsonResult", "hutchinson", "CompactLBFGS",
           "InverseLBFGS", "DenseOperator", "Eigenpairs", "Lanczos", "extreme_eigenpairs", "lanczos",
           "GHORBANI", "THESIS", "Density", "slq", "smoothed_density"]
