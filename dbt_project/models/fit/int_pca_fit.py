"""PCA of the model matrix (thin shell, see cc_segmentation.segmentation.projection).

The covariance matrix comes from SQL (int_feature_covariance, every
customer); only its 17 x 17 eigen-decomposition runs here.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    import numpy as np

    from cc_segmentation.segmentation.projection import pca_from_covariance
    from cc_segmentation.segmentation.warehouse import model_output, relation


def model(dbt, session):
    dbt.config(materialized="table")
    pairs = relation(dbt.ref("int_feature_covariance")).order(
        "feature_position_a", "feature_position_b"
    )
    columns = pairs.project(
        "feature_position_a", "feature_name_a", "mean_a", "covariance"
    ).fetchnumpy()
    n_features = int(round(len(columns["covariance"]) ** 0.5))
    covariance = np.asarray(columns["covariance"], dtype=np.float64).reshape(
        n_features, n_features
    )
    first_of_each = slice(None, None, n_features)
    features = [str(name) for name in columns["feature_name_a"][first_of_each]]
    means = np.asarray(columns["mean_a"][first_of_each], dtype=np.float64)
    pca = pca_from_covariance(covariance, means, features, n_components=2)
    return model_output(session, pca)
