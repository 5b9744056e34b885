"""Shapeset-3x2 (Glorot & Bengio 2010, Sec. 2.1): classes, overlap rule, grey levels, geometry.

Every test draws from blocks of 500 images so that a single compilation (n=500, size=32) serves the file; the
Glorot 2010 experiment streams the same block size (chunk 50 × minibatch 10).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vgp_core import ConfigError, data

N = 500
ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")


@pytest.fixture(scope="module")
def batch():
    """4500 examples (9 blocks of 500) as NumPy arrays."""
    parts = [data.shapeset_details(jax.random.fold_in(jax.random.PRNGKey(7), b), N) for b in range(9)]
    return jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *parts)


def test_shapes_dtype_range(batch):
    images, labels = data.shapeset(jax.random.PRNGKey(0), N)
    assert images.shape == (N, 32, 32) and images.dtype == jnp.float32
    assert labels.shape == (N,) and labels.dtype == jnp.int32
    assert batch.images.min() >= -1.0 and batch.images.max() <= 1.0
    assert set(np.unique(batch.labels)) == set(range(9))


def test_deterministic_by_seed():
    a = data.shapeset(jax.random.PRNGKey(3), N)
    b = data.shapeset(jax.random.PRNGKey(3), N)
    c = data.shapeset(jax.random.PRNGKey(4), N)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))


def test_class_balance(batch):
    counts = np.bincount(batch.labels, minlength=9)
    expected = len(batch.labels) / 9
    chi2 = np.sum((counts - expected) ** 2 / expected)
    # 26.12 is the 99.9 % quantile of chi-square with 8 degrees of freedom: a uniform class draw fails this
    # (seeded, hence deterministic) check with probability 0.1 %.
    assert chi2 < 26.12, counts


def test_labels_match_shapes(batch):
    classes = np.asarray(data.SHAPESET_CLASSES)
    drawn = np.sort(batch.shapes, axis=1)  # order of drawing is random for mixed pairs
    np.testing.assert_array_equal(drawn, np.sort(classes[batch.labels], axis=1))
    single = batch.shapes[:, 1] < 0
    assert not batch.masks[single, 1].any()  # no second shape drawn for the 3 single-shape classes
    assert batch.masks[:, 0].sum(axis=(1, 2)).min() >= 1
    assert batch.masks[~single, 1].sum(axis=(1, 2)).min() >= 1


def test_overlap_rule(batch):
    two = batch.shapes[:, 1] >= 0
    m1, m2 = batch.masks[two, 0], batch.masks[two, 1]
    inter = (m1 & m2).sum(axis=(1, 2))
    smaller = np.minimum(m1.sum(axis=(1, 2)), m2.sum(axis=(1, 2)))
    assert batch.overlap_ok.all()
    assert np.all(inter <= 0.5 * smaller)  # Shapeset: second shape overlaps the first by at most 50 % of its area
    assert (inter > 0).mean() > 0.05  # overlapping pairs do occur (the rule is not met by keeping shapes apart)


def test_grey_levels_and_inversion(batch):
    v = (batch.images + 1.0) / 2.0  # back to [0, 1]
    fg = batch.masks.any(axis=1)
    inv = batch.inverted[:, None, None]
    # float32 rounding of 2v - 1 and back: 1e-6 slack
    bg_v = np.where(inv, 1.0 - v, v)[~fg]
    fg_v = np.where(inv, 1.0 - v, v)[fg]
    assert bg_v.min() >= -1e-6 and bg_v.max() <= 0.45 + 1e-6
    assert fg_v.min() >= 0.55 - 1e-6 and fg_v.max() <= 1.0 + 1e-6
    # inversion with probability 1/2: 4500 draws have std 0.0075, so ±0.04 is > 5 standard deviations
    assert abs(batch.inverted.mean() - 0.5) < 0.04


def test_scale_and_position(batch):
    """Every shape fits in a disc of diameter 0.8 × size (scale 0.2–0.8), inside the image."""
    size = batch.images.shape[-1]
    for k in range(2):
        for mask in batch.masks[:300, k]:
            ys, xs = np.nonzero(mask)
            if len(xs) < 2:
                continue
            pts = np.stack([xs, ys], axis=1).astype(float)
            # pixel centres inside the polygon lie inside its disc, so no pixel-size slack is needed
            diam = np.max(np.linalg.norm(pts[:, None] - pts[None], axis=-1))
            assert diam <= data.SHAPESET_SCALE[1] * size + 1e-9


def test_rasterized_area_matches_polygon_area():
    """A circle drawn as a regular 20-gon of radius r covers (20/2) r² sin(2π/20) of the image."""
    size = 256
    u = jnp.asarray([[1.0, 0.5, 1.0, 0.0, 0.5, 0.5]])  # aspect 1, scale 0.8 (radius 0.4), centred
    mask = np.asarray(data._rasterize(data._place(u, jnp.asarray([2])), size))[0]
    r = 0.4 * size
    area = 10 * r**2 * np.sin(2 * np.pi / 20)
    perimeter = 20 * 2 * r * np.sin(np.pi / 20)
    # at most the ring of boundary pixels (one per unit of perimeter) can be miscounted: 640 of 32,400 pixels
    assert abs(mask.sum() - area) <= perimeter


def test_a_padding_vertex_one_ulp_off_does_not_erase_the_shape():
    """Triangles are padded to 20 vertices by repeating the last one. XLA may compute the copies in two fusions
    that round differently (JAX 0.12.1 on CPU did: ~8 % of triangles and parallelograms drew no pixel); each
    copy here is moved by one float32 ulp in turn, in every direction: the triangle keeps its pixels."""
    u = jnp.asarray([[0.5, 0.5, 0.5, 0.3, 0.5, 0.5]])
    vertices = np.asarray(data._place(u, jnp.asarray([0])))[0]
    exact = np.asarray(data._rasterize(jnp.asarray(vertices), 32))
    assert exact.sum() > 20
    for k in range(3, vertices.shape[0]):
        for direction in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            off = vertices.copy()
            off[k] = np.nextafter(off[k], off[k] + np.float32(direction), dtype=np.float32)
            np.testing.assert_array_equal(np.asarray(data._rasterize(jnp.asarray(off), 32)), exact)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        data.shapeset(jax.random.PRNGKey(0), 0)
    with pytest.raises(ConfigError):
        data.shapeset(jax.random.PRNGKey(0), 10, size=4)
    with pytest.raises(ConfigError):
        data.shapeset(jnp.zeros(2, jnp.float32), 10)


def test_render_samples_png(batch):
    """Writes assets/shapeset-samples.png: one row per class (8 examples each), class names on the left."""
    from PIL import Image, ImageDraw

    per_class, cell, scale, margin = 8, 36, 3, 190
    rows = []
    for c in range(9):
        idx = np.nonzero(batch.labels == c)[0][:per_class]
        assert len(idx) == per_class
        rows.append(batch.images[idx])
    tiles = np.full((9, per_class, cell, cell), 255, np.uint8)
    tiles[:, :, 2:34, 2:34] = np.round((np.asarray(rows) + 1.0) * 127.5).astype(np.uint8)
    grid = tiles.transpose(0, 2, 1, 3).reshape(9 * cell, per_class * cell)
    grid = Image.fromarray(grid).resize((per_class * cell * scale, 9 * cell * scale), Image.NEAREST)
    canvas = Image.new("L", (margin + grid.width, grid.height), 255)
    canvas.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(data.SHAPESET_CLASS_NAMES):
        draw.text((8, c * cell * scale + cell * scale // 2 - 6), f"{c}: {name}", fill=0)
    os.makedirs(ASSETS, exist_ok=True)
    path = os.path.join(ASSETS, "shapeset-samples.png")
    canvas.save(path, optimize=True)
    assert os.path.getsize(path) > 1000
