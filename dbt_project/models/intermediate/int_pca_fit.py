"""PCA of the model matrix (thin shell, see cc_segmentation.projection)."""

from cc_segmentation.kmeans import model_matrix
from cc_segmentation.projection import fit_pca


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    _, features, matrix = model_matrix(standardized, feature_scaling)
    return fit_pca(matrix, features, n_components=2)
