"""app/components/numeric.py: log10 images flag overflow (inf/NaN) and underflow (0) instead of failing."""

import numpy as np

from app.components.numeric import UNDERFLOW_SENTINEL, log10_for_image


def test_log10_image_marks_overflow_and_underflow():
    img, counts, (lo, hi) = log10_for_image(np.array([[0.0, np.inf], [-np.inf, np.nan]]))
    assert counts.overflow == 2 and counts.underflow == 1
    assert np.isnan(img[0, 1]) and np.isnan(img[1, 1]) and img[1, 0] == UNDERFLOW_SENTINEL
    assert lo < hi
