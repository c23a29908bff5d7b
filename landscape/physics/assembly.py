"""The finite-element system of a problem: dof maps, loads and a fixed sparsity pattern.

Everything here is computed once per problem. Assembly at a new density is a
single sparse matrix-vector product ``data = P @ E`` that writes the values of
the lower triangle of the reduced (free-dof) stiffness matrix straight into a
fixed CSC structure: no COO-to-CSC conversion, no sorting, per call.
"""
from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp
import torch

from .element import NODE_OFFSETS, element_stiffness

__all__ = ["FESystem", "fe_system", "E0", "EMIN", "POISSON"]

E0, EMIN, POISSON = 1.0, 1e-9, 0.3


class FESystem:
    """Dof bookkeeping and the stiffness sparsity pattern of one :class:`~landscape.problems.Problem`.

    Nodes and dofs are numbered as in the 88-line code and Hoyer et al.'s (node ``(nely + 1) * col + row``,
    dofs ``2 node`` (x) and ``2 node + 1`` (y)); a dof is fixed where ``problem.normals`` is non-zero.

    Args:
        problem: the :class:`~landscape.problems.Problem` (its shape, supports and loads).
        young: the Young's modulus of the reference element stiffness ``ke`` (default ``E0 = 1``; the
            element moduli multiply it).
        poisson: Poisson's ratio (default 0.3).

    Attributes:
        nely, nelx: grid size; elements are numbered row-major over ``(nely, nelx)``.
        nel: the number of elements, ``nely * nelx``.
        ke: (8, 8) element stiffness (float64 tensor) for modulus ``young``.
        edof: (nel, 8) global dofs of each element.
        free: the indices of the free (unsupported) dofs, increasing.
        num_dofs, num_free: the number of all dofs and of the free ones.
        free_edof: (nel, 8) position of each element dof in the free-dof vector, ``num_free`` for fixed
            dofs (so a zero-padded free vector can be gathered).
        forces: (num_free,) float64 tensor, the load on the free dofs.
        indptr, indices: CSC structure of the lower triangle of the reduced K.
        nnz: the number of stored entries of that lower triangle.
        scatter: sparse (nnz, nel) matrix with ``K.data = scatter @ E``.

    Raises:
        ValueError: ``poisson`` outside (-1, 0.5) (from :func:`~landscape.physics.element.element_stiffness`).
    """

    def __init__(self, problem, young=E0, poisson=POISSON):
        self.nely, self.nelx = problem.shape
        self.nel = self.nely * self.nelx
        ke = element_stiffness(young, poisson)
        self.ke = torch.from_numpy(ke)

        rows, cols = np.meshgrid(np.arange(self.nely), np.arange(self.nelx), indexing="ij")
        rows, cols = rows.ravel(), cols.ravel()            # element e = row * nelx + col
        node = lambda c, r: (self.nely + 1) * c + r        # noqa: E731  (Hoyer/88-line numbering)
        nodes = np.stack([node(cols + dc, rows + dr) for dc, dr in NODE_OFFSETS], axis=1)
        self.edof = np.stack([2 * nodes, 2 * nodes + 1], axis=2).reshape(self.nel, 8)

        fixed = np.asarray(problem.normals).ravel() != 0
        self.free = np.flatnonzero(~fixed)
        self.num_dofs = fixed.size
        self.num_free = self.free.size
        position = np.full(self.num_dofs, self.num_free)
        position[self.free] = np.arange(self.num_free)
        free_edof = position[self.edof]
        self.free_edof = torch.from_numpy(free_edof)
        self.forces = torch.from_numpy(np.asarray(problem.forces).ravel()[self.free].copy())

        # entries (element, a, b) of the lower triangle of the reduced matrix
        e, a, b = np.nonzero(np.broadcast_to(np.ones((1, 8, 8), bool), (self.nel, 8, 8)))
        i, j = free_edof[e, a], free_edof[e, b]
        keep = (i < self.num_free) & (j < self.num_free) & (i >= j)
        e, a, b, i, j = e[keep], a[keep], b[keep], i[keep], j[keep]
        key = j.astype(np.int64) * self.num_free + i           # column-major order
        unique, slot = np.unique(key, return_inverse=True)
        self.indices = (unique % self.num_free).astype(np.int32)
        counts = np.bincount(unique // self.num_free, minlength=self.num_free)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self.nnz = unique.size
        self.scatter = sp.csr_matrix((ke[a, b], (slot, e)), shape=(self.nnz, self.nel))
        self._symbolic = None   # solver state, owned by landscape.physics.solve

    def lower_matrix(self, young_moduli: np.ndarray) -> sp.csc_matrix:
        """Lower triangle of the reduced (free-dof) stiffness matrix: one sparse product ``scatter @ E``.

        Args:
            young_moduli: the element moduli ``E``, shape (nel,), in element order.

        Returns:
            A ``(num_free, num_free)`` CSC matrix holding the lower triangle (diagonal included).
        """
        data = self.scatter @ np.asarray(young_moduli, dtype=np.float64)
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.num_free,) * 2)

    def full_matrix(self, young_moduli: np.ndarray) -> sp.csc_matrix:
        """The whole symmetric reduced stiffness matrix (for solvers that need both triangles).

        Args:
            young_moduli: the element moduli ``E``, shape (nel,).

        Returns:
            A ``(num_free, num_free)`` symmetric CSC matrix.
        """
        lower = self.lower_matrix(young_moduli)
        return (lower + sp.tril(lower, -1, format="csc").T).tocsc()

    def gather(self, u: torch.Tensor) -> torch.Tensor:
        """Element dof values of a free-dof vector or block; fixed dofs read as 0.

        Args:
            u: values on the free dofs, shape ``(num_free, ...)``.

        Returns:
            ``(nel, 8, ...)``: each element's eight dof values.
        """
        pad = torch.zeros((1,) + tuple(u.shape[1:]), dtype=u.dtype)
        return torch.cat([u, pad])[self.free_edof]

    def scatter_add(self, ue: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`gather`: sum element vectors into the free dofs (fixed dofs are dropped).

        Args:
            ue: element values, shape ``(nel, 8, ...)``.

        Returns:
            ``(num_free, ...)``.
        """
        out = torch.zeros((self.num_free + 1,) + tuple(ue.shape[2:]), dtype=ue.dtype)
        out = out.index_add(0, self.free_edof.reshape(-1), ue.reshape((-1,) + tuple(ue.shape[2:])))
        return out[:-1]


_SYSTEMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fe_system(problem) -> FESystem:
    """The (cached) :class:`FESystem` of ``problem``; built on first use.

    The cache is keyed weakly by the problem object (not its name), so a system lives as long as its
    problem; it is built with the default material (``E0``, ``POISSON``).

    Args:
        problem: the :class:`~landscape.problems.Problem`.

    Returns:
        The problem's :class:`FESystem`.
    """
    system = _SYSTEMS.get(problem)
    if system is None:
        # built once, possibly first inside a torch.func transform: its tensors
        # are constants and must not belong to that transform's level
        with torch._C._DisableFuncTorch():
            system = _SYSTEMS[problem] = FESystem(problem)
    return system
