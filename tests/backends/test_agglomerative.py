"""Average-linkage clustering on scipy, against scikit-learn's AgglomerativeClustering."""

from __future__ import annotations

import numpy as np
import pytest

sklearn_cluster = pytest.importorskip("sklearn.cluster")

from dubkit.backends.agglomerative import average_linkage_labels


def blobs(seed: int, count: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(rng.integers(1, 5)), 16))
    picks = rng.integers(0, len(centres), count)
    return (centres[picks] + rng.normal(scale=0.7, size=(count, 16))).astype(np.float32)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    ("n_clusters", "threshold"), [(1, None), (2, None), (5, None), (None, 0.2), (None, 0.32), (None, 0.8)]
)
def test_same_labels_as_scikit_learn(seed: int, n_clusters: int | None, threshold: float | None) -> None:
    x = blobs(seed)
    expected = sklearn_cluster.AgglomerativeClustering(
        n_clusters=n_clusters, distance_threshold=threshold, metric="cosine", linkage="average"
    ).fit_predict(x)
    got = average_linkage_labels(x, n_clusters=n_clusters, threshold=threshold)
    assert got.tolist() == expected.tolist()


def test_one_row_and_bad_arguments() -> None:
    x = blobs(0, 4)
    assert average_linkage_labels(x[:1], threshold=0.3).tolist() == [0]
    assert sorted(average_linkage_labels(x, n_clusters=4).tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="exactly one"):
        average_linkage_labels(x, n_clusters=2, threshold=0.3)
    with pytest.raises(ValueError, match="exactly one"):
        average_linkage_labels(x)
    with pytest.raises(ValueError, match="5 clusters"):
        average_linkage_labels(x, n_clusters=5)
