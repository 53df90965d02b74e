"""Name each segment after the nearest persona (thin shell, see cc_segmentation)."""

from cc_segmentation.personas import match_personas


def model(dbt, session):
    dbt.config(materialized="table")
    centroids = dbt.ref("segment_centroids").df()
    signatures = dbt.ref("persona_signatures").df()
    crm_strategies = dbt.ref("crm_strategies").df()
    return match_personas(centroids, signatures, crm_strategies["persona_id"].tolist())
