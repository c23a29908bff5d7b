"""Parameterizations: modules whose forward pass returns density logits of shape (height, width).

* ``pixel``: one free logit per element. ``init="constant"`` (the default) starts at
  ``volfrac * mask``, Hoyer's PixelModel and the start of the thesis's p = 1 check;
  ``init="random"`` draws standard-normal logits inside the mask (zero outside)
  from a generator seeded with ``seed``, the random starts the thesis's medians
  over seeds need for pixels.
* ``cnn``: Hoyer et al.'s CNNModel: a trainable latent vector (128, N(0, 1)), a
  dense layer into ``h x w x 32`` (orthogonal init, gain ``sqrt(max(h w 32 / 128, 1))``),
  then five blocks ``tanh -> bilinear resize (1, 2, 2, 2, 1) -> global
  normalization -> 5x5 'same' convolution (128, 64, 32, 16, 1 channels) ->
  learned per-element offset x 10``. Convolutions use Keras' default
  VarianceScaling init (truncated normal, fan-in, scale 1) and zero biases.
* ``cnn_transpose``: the thesis's variant (appendix B.1.2): each
  "resize + convolution" becomes one 5x5 transposed convolution with stride
  equal to the resize factor and Keras' 'same' padding (output = stride x input).
  Keras computes the fan-in of a transposed-convolution kernel from its
  *output* channels; the initializer here does the same.

All parameters are drawn in float64 from one ``torch.Generator`` seeded with
``seed`` in a fixed order, so the same seed gives the same parameters bit for
bit. ``build(..., precision="mixed")`` (the default) then rounds a network's
parameters to float32, as Hoyer et al. and the thesis ran their networks;
``precision="float64"`` keeps them. ``pixel`` has no network and stays float64.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .precision import network_dtype

__all__ = ["PixelModel", "CNNModel", "build", "KINDS", "global_normalization", "register"]

# Keras' truncated normal keeps draws within two standard deviations and
# divides the standard deviation by this constant so the result has the asked one.
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def _truncated_normal(shape, std, generator):
    out = torch.empty(shape, dtype=torch.float64)
    nn.init.trunc_normal_(out, mean=0.0, std=std, a=-2 * std, b=2 * std, generator=generator)
    return out


def _variance_scaling(shape, fan_in, generator):
    return _truncated_normal(shape, math.sqrt(1.0 / fan_in) / _TRUNCATED_NORMAL_STD, generator)


def global_normalization(x: torch.Tensor, epsilon: float = 1e-6) -> torch.Tensor:
    """Subtract the mean and divide by the standard deviation over all elements and channels.

    Hoyer et al.'s normalization between the CNN's layers: ``(x - mean) / sqrt(var + epsilon)`` with
    one mean and one variance over the whole tensor.

    Args:
        x: any tensor.
        epsilon: added to the variance (default 1e-6).

    Returns:
        The normalized tensor, the shape of ``x``.
    """
    mean = x.mean()
    var = ((x - mean) ** 2).mean()
    return (x - mean) * torch.rsqrt(var + epsilon)


PIXEL_INITS = ("constant", "random")


class PixelModel(nn.Module):
    """Free logits on the grid: the constant start ``volfrac * mask``, or seeded standard-normal logits.

    The pixel parameterization of Hoyer et al. and the thesis: one logit per element, in float64.

    Args:
        problem: the :class:`~landscape.problems.Problem` (its shape, mask and volume fraction).
        seed: the seed of the random start (None means 0); unused by the constant start.
        init: ``"constant"`` (default; ``volfrac * mask``, Hoyer et al.'s start) or ``"random"``
            (standard-normal logits on the design region, zero outside: the thesis's random starts).

    Raises:
        ValueError: an unknown ``init``.
    """

    has_network = False   # no float32 network: always float64

    def __init__(self, problem, seed=None, init: str = "constant"):
        super().__init__()
        mask = np.broadcast_to(np.asarray(problem.mask, dtype=np.float64), problem.shape)
        if init == "constant":
            logits = torch.tensor(problem.volfrac * mask, dtype=torch.float64)
        elif init == "random":
            gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
            noise = torch.randn(problem.shape, generator=gen, dtype=torch.float64)
            logits = noise * torch.from_numpy(np.ascontiguousarray(mask > 0)).to(torch.float64)
        else:
            raise ValueError(f"unknown pixel init {init!r}; accepted: {', '.join(PIXEL_INITS)}")
        self.init = init
        self.logits = nn.Parameter(logits)

    def forward(self):
        """The logits, shape (height, width)."""
        return self.logits


class CNNModel(nn.Module):
    """Hoyer et al.'s CNN parameterization, or the thesis's transposed-convolution variant.

    A latent vector through a dense layer to a ``dense_channels`` feature map at the coarse grid, then
    blocks of ``tanh``, upsampling by ``resizes[i]`` (bilinear, or a strided transposed convolution with
    ``transpose``), global normalization, a convolution to ``conv_filters[i]`` channels, and a trainable
    per-pixel offset scaled by ``offset_scale`` (Hoyer et al. 2019, section 3 and their code; the thesis's
    ``cnn_transpose``, appendix B.1.2). Initializers follow Hoyer's Keras code (orthogonal dense layer,
    truncated-normal variance scaling for the kernels, zero biases and offsets).

    Args:
        problem: the :class:`~landscape.problems.Problem`; its grid must be divisible by ``prod(resizes)``.
        seed: the seed of every initial parameter (None means 0).
        latent_size: the length of the latent vector ``z`` (default 128).
        dense_channels: channels of the dense layer's feature map (default 32).
        resizes: the upsampling factor of each block (default (1, 2, 2, 2, 1)).
        conv_filters: the output channels of each block; the last must be 1 (default (128, 64, 32, 16, 1)).
        offset_scale: the factor of the per-pixel offsets (default 10).
        kernel_size: the odd convolution kernel size (default 5).
        latent_scale: the standard deviation of the initial ``z`` (default 1).
        dense_init_scale: the gain of the orthogonal dense initializer, times
            ``sqrt(max(features / latent_size, 1))`` (default 1).
        transpose: use strided transposed convolutions instead of bilinear upsampling and convolutions
            (the thesis's variant; default False, Hoyer's).
        dense: with the dense layer (default True); False gives a trainable input feature map instead (the
            thesis's small test CNN of appendix B.5).

    Raises:
        ValueError: a non-positive or non-integer size, ``resizes`` and ``conv_filters`` of different
            lengths, a last layer with more than one channel, a grid not divisible by the total resize
            factor, or an even kernel size.
    """

    def __init__(self, problem, seed=0, latent_size=128, dense_channels=32, resizes=(1, 2, 2, 2, 1),
                 conv_filters=(128, 64, 32, 16, 1), offset_scale=10.0, kernel_size=5,
                 latent_scale=1.0, dense_init_scale=1.0, transpose=False, dense=True):
        super().__init__()
        for label, value in (("latent_size", latent_size), ("dense_channels", dense_channels),
                             ("kernel_size", kernel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        if any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in resizes):
            raise ValueError(f"resizes must be positive integers, got {resizes!r}")
        if any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in conv_filters):
            raise ValueError(f"conv_filters must be positive integers, got {conv_filters!r}")
        if len(resizes) != len(conv_filters):
            raise ValueError(f"resizes {resizes} and conv_filters {conv_filters} must have the same length")
        if conv_filters[-1] != 1:
            raise ValueError(f"the last layer must have 1 channel, got conv_filters={conv_filters}")
        total = int(np.prod(resizes))
        height, width = problem.shape
        if height % total or width % total:
            raise ValueError(f"grid {height}x{width} (height x width) is not divisible by the total "
                             f"resize factor {total} of resizes={resizes}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.h, self.w = height // total, width // total
        self.dense_channels = dense_channels
        self.resizes = tuple(int(r) for r in resizes)
        self.offset_scale = float(offset_scale)
        self.kernel_size = kernel_size
        self.transpose = transpose

        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        features = self.h * self.w * dense_channels
        self.dense = dense
        if dense:
            self.z = nn.Parameter(torch.randn((1, latent_size), generator=gen, dtype=torch.float64)
                                  * latent_scale)
            weight = torch.empty((features, latent_size), dtype=torch.float64)
            nn.init.orthogonal_(weight, gain=dense_init_scale * math.sqrt(max(features / latent_size, 1)),
                                generator=gen)
            self.dense_weight = nn.Parameter(weight)
            self.dense_bias = nn.Parameter(torch.zeros(features, dtype=torch.float64))
        else:   # the thesis's small test CNN (appendix B.5): a trainable input feature map, no dense layer
            self.z = nn.Parameter(torch.randn((1, features), generator=gen, dtype=torch.float64) * latent_scale)

        self.conv_weights = nn.ParameterList()
        self.conv_biases = nn.ParameterList()
        self.offsets = nn.ParameterList()
        channels, size = dense_channels, (self.h, self.w)
        k = kernel_size
        for resize, filters in zip(self.resizes, conv_filters):
            size = (size[0] * resize, size[1] * resize)
            if transpose:   # torch layout (in, out, k, k); Keras' fan-in counts output channels
                weight = _variance_scaling((channels, filters, k, k), k * k * filters, gen)
            else:
                weight = _variance_scaling((filters, channels, k, k), k * k * channels, gen)
            self.conv_weights.append(nn.Parameter(weight))
            self.conv_biases.append(nn.Parameter(torch.zeros(filters, dtype=torch.float64)))
            self.offsets.append(nn.Parameter(torch.zeros((filters,) + size, dtype=torch.float64)))
            channels = filters

    def filter_dims(self) -> dict[str, int]:
        """The output-channel dimension of each weight that is not the first: transposed kernels (in, out, k, k).

        For filter-normalized directions (Li et al. 2018), which normalize per output filter.

        Returns:
            ``{"conv_weights.i": 1}`` for every block when ``transpose``, else an empty dict (dimension 0).
        """
        return {f"conv_weights.{i}": 1 for i in range(len(self.conv_weights))} if self.transpose else {}

    def _block(self, net, resize, weight, bias):
        k = self.kernel_size
        if not self.transpose:
            if resize > 1:
                net = F.interpolate(net, scale_factor=resize, mode="bilinear", align_corners=False)
            net = global_normalization(net)
            return F.conv2d(net, weight, bias, padding=k // 2)
        net = global_normalization(net)
        # Keras 'same': output = stride * input, padding (k - stride) // 2 before, the rest after.
        rows, cols = net.shape[-2] * resize, net.shape[-1] * resize
        out = F.conv_transpose2d(net, weight, bias, stride=resize, padding=(k - resize) // 2)
        return out[..., :rows, :cols]

    def forward(self):
        """The logits, shape (height, width)."""
        net = F.linear(self.z, self.dense_weight, self.dense_bias) if self.dense else self.z
        net = net.reshape(1, self.h, self.w, self.dense_channels).permute(0, 3, 1, 2)
        for resize, weight, bias, offset in zip(self.resizes, self.conv_weights, self.conv_biases,
                                                self.offsets):
            net = self._block(torch.tanh(net), resize, weight, bias)
            net = net + self.offset_scale * offset
        return net[0, 0]


KINDS = {
    "pixel": PixelModel,
    "cnn": CNNModel,
    "cnn_transpose": lambda problem, seed=0, **kw: CNNModel(problem, seed=seed, transpose=True, **kw),
    "mlp": lambda problem, seed=0, **kw: _mlp(problem, seed=seed, **kw),
}


def _mlp(problem, seed=0, **options):
    from .mlp import MLPModel  # coordinate MLPs live in their own module
    return MLPModel(problem, seed=seed, **options)


def register(kind: str, factory) -> None:
    """Add a parameterization ``factory(problem, seed=..., **options) -> nn.Module`` under ``kind``.

    The module's ``forward()`` returns the logits, shape (height, width); after registering,
    ``build(kind, problem, ...)``, ``RunSpec`` and the command line accept the kind.

    Args:
        kind: the name to build it by (an existing kind is replaced).
        factory: a callable, e.g. an ``nn.Module`` class.
    """
    KINDS[kind] = factory


def model_options(kind: str) -> dict[str, object] | None:
    """The options model ``kind`` takes, with their defaults (what ``build(kind, problem, **options)`` accepts);
    None for a registered factory that takes any keyword.

    The options are the factory's (for ``cnn_transpose`` and ``mlp``: :class:`CNNModel`'s without
    ``transpose``, and :class:`~landscape.mlp.MLPModel`'s) keyword parameters other than ``problem`` and
    ``seed``.

    Args:
        kind: the model kind (:data:`KINDS`).

    Returns:
        ``{option: default}``, or None when the factory accepts ``**kwargs``.

    Raises:
        ValueError: an unknown kind.
    """
    import inspect
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; accepted: {', '.join(KINDS)}")
    factory, fixed = KINDS[kind], ()
    if kind == "cnn_transpose":          # the built-in wrappers: the options are their class's
        factory, fixed = CNNModel, ("transpose",)
    elif kind == "mlp":
        from .mlp import MLPModel
        factory = MLPModel
    parameters = inspect.signature(factory.__init__ if inspect.isclass(factory) else factory).parameters
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return None                     # a registered factory that takes any keyword: it checks its own
    return {name: p.default for name, p in parameters.items() if name not in ("self", "problem", "seed", *fixed)
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def build(kind: str, problem, seed: int | None = 0, precision: str = "mixed", **options) -> nn.Module:
    """A parameterization of ``problem``: ``pixel``, ``cnn``, ``cnn_transpose`` or ``mlp``.

    The module is built with ``KINDS[kind](problem, seed=seed, **options)``, converted to float64, then
    to the dtype :func:`~landscape.precision.network_dtype` gives for ``precision``.

    Options by kind (keyword, default: what it does):

    * ``pixel`` (:class:`PixelModel`): ``init="constant"``: the start, ``"constant"`` (``volfrac * mask``)
      or ``"random"`` (seeded standard-normal logits on the design region, zero outside).
    * ``cnn`` (:class:`CNNModel`, Hoyer et al.'s CNN):

      * ``latent_size=128``: the length of the trainable latent vector ``z``;
      * ``dense_channels=32``: the channels of the dense layer's coarse feature map;
      * ``resizes=(1, 2, 2, 2, 1)``: the upsampling factor of each block (the grid must be divisible by
        their product);
      * ``conv_filters=(128, 64, 32, 16, 1)``: the output channels of each block, as many as ``resizes``,
        the last 1;
      * ``offset_scale=10.0``: the factor of each block's trainable per-element offset;
      * ``kernel_size=5``: the odd convolution kernel size;
      * ``latent_scale=1.0``: the standard deviation of the initial ``z``;
      * ``dense_init_scale=1.0``: the gain of the orthogonal dense initializer, times
        ``sqrt(max(features / latent_size, 1))``;
      * ``transpose=False``: strided transposed convolutions instead of bilinear resize and convolution;
      * ``dense=True``: with the dense layer; False makes ``z`` a trainable input feature map (the thesis's
        small test CNN, appendix B.5).
    * ``cnn_transpose``: the options of ``cnn`` except ``transpose``, which is always True (the thesis's
      variant, appendix B.1.2).
    * ``mlp`` (:class:`~landscape.mlp.MLPModel`, the coordinate MLP of the NTK paper):

      * ``widths=(256, 256)``: the hidden layer widths;
      * ``activation="cosine"``: ``"cosine"`` or ``"relu"`` (both normalized to unit second moment);
      * ``frequency=2.0``: the frequency ``nu`` of the cosine activation;
      * ``beta=0.1``: the bias weight of the NTK parameterization, in [0, 1);
      * ``embedding="torus"``: the coordinate embedding, ``"raw"``, ``"torus"`` or ``"fourier"``;
      * ``angle=None``: the torus discretization angle (None: ``pi / max(height, width)``);
      * ``length_scale=4.0``: the Fourier features' length-scale, in elements;
      * ``features=256``: the number of Fourier features;
      * ``centre=True``: subtract the initial output and add ``logit(volfrac)``, so the initial density is
        the constant volume fraction.

    A kind added by :func:`register` takes the options of its factory.

    Args:
        kind: the model kind (:data:`KINDS`).
        problem: a :class:`~landscape.problems.Problem` or its name (a suite name or a thesis code, ``"A"``).
        seed: the seed of the initial parameters (same seed, same parameters bit for bit; default 0).
        precision: ``"mixed"`` (the default) gives a float32 network (the objective keeps the physics in
            float64), ``"float64"`` a float64 one; ``pixel`` is always float64.
        **options: the kind's options, listed above (:func:`model_options` gives them with their defaults).

    Returns:
        The ``torch.nn.Module``, in float64 or the network precision, with ``kind``, ``seed`` and ``options``
        attributes (for run configs and traces).

    Raises:
        ValueError: an unknown kind, option or precision (the message names the accepted ones), or an option
            value the model rejects.
        KeyError: an unknown problem name (:class:`~landscape.problems.UnknownProblemError`).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; accepted: {', '.join(KINDS)}")
    if isinstance(problem, str):
        from . import problems
        problem = problems.get(problem)
    accepted = model_options(kind)
    unknown = sorted(set(options) - set(accepted)) if accepted is not None else []
    if unknown:
        listed = ", ".join(f"{name}={default!r}" for name, default in accepted.items())
        raise ValueError(f"the {kind} model has no option {', '.join(map(repr, unknown))}; accepted (with their "
                         f"defaults): {listed}")
    module = KINDS[kind](problem, seed=seed, **options).double()
    module = module.to(network_dtype(module, precision))
    module.kind, module.seed, module.options = kind, seed, dict(options)   # for run configs and traces
    return module
