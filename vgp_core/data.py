"""Synthetic, seeded training data (no downloads).

``gaussian_mixture``: the classification task that the deep-network page trains on. Each of ``n_classes``
classes has a random centre mu_c ~ N(0, I) (fixed by ``task_key``); an example of class y is
x = a·mu_y + sqrt(1 - a^2)·eps with eps ~ N(0, I), so every input coordinate has unit variance (the mean-field
input length q^0 = 1) whatever the separation ``a``. Fresh batches are drawn per step from ``batch_key``.

``shapeset``: Glorot & Bengio's (2010) Shapeset-3x2, 32×32 grey images of one or two polygons in 9 classes,
generated on the fly (the Glorot & Bengio 2010 reproduction in ``experiments.glorot2010`` streams it).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .errors import ConfigError, check_int

#: weight of the class centre in each example (0: pure noise, 1: no noise).
DEFAULT_SEPARATION = 0.5


def gaussian_mixture(task_key, batch_key, n: int, input_dim: int, n_classes: int, separation=DEFAULT_SEPARATION):
    """A batch of the Gaussian-mixture classification task that the Deep network page trains on.

    Each class c has a centre mu_c ~ N(0, I) fixed by ``task_key``; an example of class y is
    x = a·mu_y + sqrt(1 - a²)·eps, eps ~ N(0, I), so every coordinate has unit variance whatever the separation a.

    Args:
      task_key: the PRNG key of the class centres (the task).
      batch_key: the PRNG key of this batch's labels and noise.
      n: the number of examples.
      input_dim: the input dimension.
      n_classes: the number of classes.
      separation: a in [0, 1], the weight of the class centre.

    Returns:
      (x, y): x of shape (n, input_dim) float32, integer labels y of shape (n,).

    References:
      Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS,
      Sec. 2 (the input length q^0 = 1 of mean-field theory, which unit-variance coordinates give).
    """
    centres = jax.random.normal(task_key, (n_classes, input_dim), jnp.float32)
    k_y, k_eps = jax.random.split(batch_key)
    y = jax.random.randint(k_y, (n,), 0, n_classes)
    eps = jax.random.normal(k_eps, (n, input_dim), jnp.float32)
    x = separation * centres[y] + jnp.sqrt(1.0 - separation**2) * eps
    return x, y


# ----------------------------------------------------------------------------------------------------------------
# Shapeset-3x2 (Glorot & Bengio 2010, Sec. 2.1; parameters of the authors' Shapeset generator)

#: Class index -> (first shape, second shape), shape ids 0 = triangle, 1 = parallelogram, 2 = ellipse; -1 = none.
#: Classes 0–2: one shape; 3–5: two shapes of the same kind; 6–8: two different shapes.
SHAPESET_CLASSES = ((0, -1), (1, -1), (2, -1), (0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
SHAPESET_CLASS_NAMES = (
    "triangle",
    "parallelogram",
    "ellipse",
    "2 triangles",
    "2 parallelograms",
    "2 ellipses",
    "triangle + parallelogram",
    "triangle + ellipse",
    "parallelogram + ellipse",
)
SHAPESET_N_CLASSES = len(SHAPESET_CLASSES)
#: Every shape is a convex polygon padded to this many vertices; the ellipse is drawn as a 20-gon (paper).
SHAPESET_VERTICES = 20
#: Shape size: diameter of the circle around the shape's centre that holds it, as a fraction of the image side.
SHAPESET_SCALE = (0.2, 0.8)
#: Elongation of each shape (minor/major axis before rotation) and the parallelogram's shear. These are our
#: choices: the paper and the authors' generator fix scale, rotation, position, grey levels and overlap, not the
#: shapes' proportions.
SHAPESET_ASPECT = (0.5, 1.0)
SHAPESET_SHEAR = (-0.5, 0.5)
SHAPESET_FOREGROUND = (0.55, 1.0)
SHAPESET_BACKGROUND = (0.0, 0.45)
#: The second shape may cover at most this fraction of either shape's area (measured in pixels).
SHAPESET_MAX_OVERLAP = 0.5
#: Placements of the second shape drawn (and rasterised) at once per example; the first acceptable one is kept.
#: One placement is accepted with probability 0.64 (measured over 20,000 random pairs), so all 4 fail for about 2 %
#: of the pairs; those are redrawn in the rounds below (4 candidates each, in a buffer of n/16 + 8 examples).
SHAPESET_CANDIDATES = 4
#: Bound on those extra rounds; ``shapeset_details(...).overlap_ok`` reports an example still rejected after them
#: (never seen: the tests check 4,500 examples).
SHAPESET_MAX_ROUNDS = 64


class ShapesetBatch(NamedTuple):
    """Everything :func:`shapeset_details` drew; ``images``/``labels`` are what :func:`shapeset` returns."""

    images: jax.Array  # (n, size, size) float32 in [-1, 1]
    labels: jax.Array  # (n,) int32 class index (SHAPESET_CLASS_NAMES)
    masks: jax.Array  # (n, 2, size, size) bool: pixels of the first and second shape (second all False if absent)
    shapes: jax.Array  # (n, 2) int32 shape ids, -1 where absent
    overlap_ok: jax.Array  # (n,) bool: the overlap rule holds (always, unless SHAPESET_MAX_ROUNDS ran out)
    inverted: jax.Array  # (n,) bool: colours inverted


def _polygon_vertices(shape_id, aspect, shear):
    """(..., SHAPESET_VERTICES, 2) counter-clockwise vertices of centred shapes whose farthest vertex is at radius 1;
    ``shape_id``, ``aspect`` and ``shear`` have the batch shape (...)."""
    m = SHAPESET_VERTICES
    aspect, shear, shape_id = aspect[..., None], shear[..., None], shape_id[..., None, None]

    def pad(x, y):  # repeat the last vertex: zero-length edges pass every half-plane test
        v = jnp.stack([x, y], axis=-1)
        return jnp.concatenate([v, jnp.broadcast_to(v[..., -1:, :], v.shape[:-2] + (m - v.shape[-2], 2))], axis=-2)

    t = 2.0 * jnp.pi * jnp.arange(m, dtype=jnp.float32) / m
    ellipse = pad(jnp.cos(t) + 0.0 * aspect, aspect * jnp.sin(t))
    a = jnp.deg2rad(jnp.asarray([90.0, 210.0, 330.0], jnp.float32))
    tri = pad(jnp.cos(a) + 0.0 * aspect, aspect * jnp.sin(a))
    px = jnp.asarray([-1.0, 1.0, 1.0, -1.0], jnp.float32)
    py = jnp.asarray([-1.0, -1.0, 1.0, 1.0], jnp.float32)
    para = pad(px + shear * py, aspect * py)
    v = jnp.where(shape_id == 0, tri, jnp.where(shape_id == 1, para, ellipse))
    return v / jnp.max(jnp.linalg.norm(v, axis=-1), axis=-1)[..., None, None]


def _place(u, shape_id):
    """Vertices (..., m, 2) in image coordinates ([0, 1]², x = column, y = row) of randomly sized, elongated,
    sheared, rotated and placed shapes, from uniform draws ``u`` (..., 6) in [0, 1)."""
    lerp = lambda x, lo_hi: lo_hi[0] + (lo_hi[1] - lo_hi[0]) * x  # noqa: E731
    aspect = lerp(u[..., 0], SHAPESET_ASPECT)
    shear = lerp(u[..., 1], SHAPESET_SHEAR)
    radius = 0.5 * lerp(u[..., 2], SHAPESET_SCALE)
    angle = 2.0 * jnp.pi * u[..., 3]
    # the shape lies in the disc of this radius around its centre, so the whole shape stays inside the image
    centre = radius[..., None] + (1.0 - 2.0 * radius[..., None]) * u[..., 4:6]
    v = _polygon_vertices(shape_id, aspect, shear)
    c, s = jnp.cos(angle)[..., None], jnp.sin(angle)[..., None]
    rotated = jnp.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)  # keeps CCW order
    return radius[..., None, None] * rotated + centre[..., None, :]


#: shortest polygon edge, in image widths: far below a real edge (the smallest shape spans 0.2 of the image and
#: its shortest edge, on a 20-gon ellipse, is over 0.01), far above float32 rounding of a vertex in [0, 1] (~1e-7)
_MIN_EDGE = 1e-5


def _rasterize(vertices, size: int):
    """Pixel masks (..., size, size) of convex counter-clockwise polygons (..., m, 2): pixel centre p is inside when
    it lies on the left of every edge v_k -> v_{k+1}, i.e. cross(v_{k+1} - v_k, p - v_k) >= 0 for all k (half-plane
    tests). The loop over edges is unrolled into a running minimum, which XLA fuses into one pass over the pixels
    (12x faster on CPU than reducing a (..., size, size, m) array).

    Edges shorter than ``_MIN_EDGE`` are skipped: they are the padding of triangles and parallelograms (a repeated
    vertex). Its test is 0 >= 0 only while both copies of the vertex are the same float; when XLA computes them in
    two fusions that round differently (JAX 0.12.1 on CPU: 1 ulp), the "edge" has a random direction and its
    half-plane can exclude the whole shape (~8 % of those shapes drew no pixel)."""
    e = jnp.roll(vertices, -1, axis=-2) - vertices  # (..., m, 2) edges
    c = e[..., 1] * vertices[..., 0] - e[..., 0] * vertices[..., 1]  # cross(e, p - v) = e_x p_y - e_y p_x + c
    real = e[..., 0] ** 2 + e[..., 1] ** 2 >= _MIN_EDGE**2
    g = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size
    py, px = g[:, None], g[None, :]
    smallest = None
    for k in range(vertices.shape[-2]):
        cross = (e[..., k, 0, None, None] * py - e[..., k, 1, None, None] * px) + c[..., k, None, None]
        cross = jnp.where(real[..., k, None, None], cross, jnp.inf)
        smallest = cross if smallest is None else jnp.minimum(smallest, cross)
    return smallest >= 0.0


def _overlap_ok(m1, m2, has_second):
    """The overlap rule, per example: the second shape covers at most SHAPESET_MAX_OVERLAP of the smaller area,
    and it covers at least one pixel (a thin shape can fall between pixel centres: a pair must show two shapes)."""
    inter = jnp.sum(m1 & m2, axis=(-2, -1))
    area2 = jnp.sum(m2, axis=(-2, -1))
    smaller = jnp.minimum(jnp.sum(m1, axis=(-2, -1)), area2)
    return jnp.logical_not(has_second) | ((inter <= SHAPESET_MAX_OVERLAP * smaller) & (area2 > 0))


def _second_shape(u, shape_ids, m1, has_second, size: int):
    """SHAPESET_CANDIDATES independent placements (uniform draws ``u``: (n, SHAPESET_CANDIDATES, 6)) of each
    example's second shape, rasterised at once; returns the first that satisfies the overlap rule (rejection
    sampling: the first accepted draw of an i.i.d. sequence) and whether there was one."""
    n = shape_ids.shape[0]
    masks = _rasterize(_place(u, shape_ids[:, None]), size) & has_second[:, None, None, None]
    ok = _overlap_ok(m1[:, None], masks, has_second[:, None])
    first = jnp.argmax(ok, axis=1)
    return masks[jnp.arange(n), first], jnp.any(ok, axis=1)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _shapeset_batch(key, n: int, size: int) -> ShapesetBatch:
    # One large random draw (plus one per retry round): every threefry call adds compile time (~0.5 s each).
    k_main, k_retry = jax.random.split(key)
    k = SHAPESET_CANDIDATES
    draws = jax.random.uniform(k_main, (n, 12 + 6 * k), jnp.float32)
    u = draws[:, :6]  # class, order, 3 grey levels, inversion
    labels = jnp.minimum((u[:, 0] * SHAPESET_N_CLASSES).astype(jnp.int32), SHAPESET_N_CLASSES - 1)
    pair = jnp.asarray(SHAPESET_CLASSES, jnp.int32)[labels]
    swap = (u[:, 1] < 0.5) & (pair[:, 1] >= 0)  # mixed pairs: either shape may come first
    shapes = jnp.where(swap[:, None], pair[:, ::-1], pair)
    has_second = shapes[:, 1] >= 0
    m1 = _rasterize(_place(draws[:, 6:12], shapes[:, 0]), size)
    m2, ok = _second_shape(draws[:, 12:].reshape(n, k, 6), shapes[:, 1], m1, has_second, size)

    # The few examples whose candidates were all rejected are gathered into a small buffer and redrawn, round after
    # round, until every example is accepted (or SHAPESET_MAX_ROUNDS is reached).
    buf = min(n, n // 16 + 8)

    def cond(state):
        r, _, ok = state
        return (r < SHAPESET_MAX_ROUNDS) & jnp.logical_not(jnp.all(ok))

    def body(state):
        r, m2, ok = state
        idx = jnp.nonzero(jnp.logical_not(ok), size=buf, fill_value=n)[0]
        j = jnp.minimum(idx, n - 1)
        u_retry = jax.random.uniform(jax.random.fold_in(k_retry, r), (buf, k, 6), jnp.float32)
        new_m2, new_ok = _second_shape(u_retry, shapes[j, 1], m1[j], has_second[j], size)
        new_ok = new_ok & (idx < n)
        m2 = m2.at[idx].set(jnp.where(new_ok[:, None, None], new_m2, m2[j]), mode="drop")
        ok = ok.at[idx].set(ok[j] | new_ok, mode="drop")
        return r + 1, m2, ok

    _, m2, ok = jax.lax.while_loop(cond, body, (jnp.int32(0), m2, ok))

    grey = u[:, 2:5]
    lo_b, hi_b = SHAPESET_BACKGROUND
    lo_f, hi_f = SHAPESET_FOREGROUND
    background = lo_b + (hi_b - lo_b) * grey[:, 0, None, None]
    fg = lo_f + (hi_f - lo_f) * grey[:, 1:, None, None]  # one grey level per shape
    img = jnp.where(m2, fg[:, 1], jnp.where(m1, fg[:, 0], background))  # the second shape is drawn on top
    inverted = u[:, 5] < 0.5
    img = jnp.where(inverted[:, None, None], 1.0 - img, img)
    return ShapesetBatch(2.0 * img - 1.0, labels.astype(jnp.int32), jnp.stack([m1, m2], axis=1), shapes, ok, inverted)


def _check_shapeset_args(key, n, size):
    n = check_int("n", n, 1, 1 << 20)
    size = check_int("size", size, 8, 256)
    key = jnp.asarray(key)
    if key.dtype != jnp.uint32 and not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        raise ConfigError(f"key must be a jax.random key, got an array of dtype {key.dtype}")
    return key, n, size


def shapeset_details(key, n: int, size: int = 32) -> ShapesetBatch:
    """Like :func:`shapeset`, also returning the shape masks, shape ids, overlap check and inversion flags.

    Args:
      key: a JAX PRNG key.
      n: the number of images.
      size: the image side in pixels.

    Returns:
      A :class:`ShapesetBatch`.

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
      Sec. 2.1 and Fig. 1.
    """
    return _shapeset_batch(*_check_shapeset_args(key, n, size))


def shapeset(key, n: int, size: int = 32):
    """(images, labels): ``n`` Shapeset-3x2 images, seeded by ``key``.

    Each image of ``size``×``size`` grey pixels in [-1, 1] holds one or two convex polygons among triangle,
    parallelogram and ellipse (a 20-gon). The class (0–8, :data:`SHAPESET_CLASS_NAMES`) is drawn uniformly: 3 single
    shapes, 3 same-shape pairs, 3 mixed pairs. Every shape gets a random size (the diameter of the disc holding it is
    0.2–0.8 of the image side), elongation, rotation and position (the whole shape inside the image). The second
    shape is redrawn until it covers at most 50 % of either shape's pixels (rejection sampling, vectorised: a
    ``lax.while_loop`` under ``vmap``) and is drawn on top. Background grey in [0, 0.45], each shape's grey in
    [0.55, 1]; with probability 1/2 the colours are inverted (v -> 1 - v); pixels v in [0, 1] are mapped to 2v - 1.

    Rasterisation tests each pixel centre against the polygon's edges (half-plane tests), vmapped over the batch and
    jitted (one compilation per (n, size)); one call makes a fresh batch, fast enough to stream during training.

    Args:
      key: a JAX PRNG key.
      n: the number of images.
      size: the image side in pixels.

    Returns:
      (images, labels): float32 images of shape (n, size, size) in [-1, 1] and int32 labels of shape (n,).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
      Sec. 2.1 and Fig. 1.
    """
    batch = shapeset_details(key, n, size)
    return batch.images, batch.labels
