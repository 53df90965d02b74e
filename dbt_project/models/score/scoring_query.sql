{#-
    The pipeline's scoring, as one SQL query the dashboard (or anyone) can
    run on new customers without a build: its steps (trim, type, check,
    impute, standardize, nearest centroid) are the pipeline's own, the
    macros of scoring_chain.sql that stg_cc_general__customers through
    int_customers_assigned call, and every fitted value (impute values,
    scaling, centroids, temperature, anomaly thresholds, names, CRM) is read
    from this warehouse's public tables: the fit state of the model in use
    (fitted_features, fitted_segments), its centroids, names and CRM.

    To run it: in a DuckDB session, ATTACH this warehouse AS warehouse
    (read-only), create a table scoring_input with the raw file's 18 columns
    (CUST_ID and the 17 measures, any types), and execute `query`
    (cc_segmentation.apps.scoring.score does exactly that).  One row comes back
    per input row: a rejection_reason for rows that cannot be scored (the
    reasons of int_customers_validated, in the same order, an id given twice
    in the batch included), the segment, distances, probabilities and CRM
    action for the others.
-#}
-- depends_on: {{ ref("int_segment_centroids") }}
-- depends_on: {{ ref("segmentation_models") }}
-- depends_on: {{ ref("fitted_features") }}
-- depends_on: {{ ref("segments") }}
-- depends_on: {{ ref("fitted_segments") }}
{% set fitted = "warehouse.main." %}
{% set keys = ["input_row_number"] %}

{% set query %}
with

scoring_rows as (

    select
        *,
        row_number() over () as input_row_number
    from scoring_input

),

trimmed as (

    {{ chain_trimmed("scoring_rows", keys) }}

),

typed as (

    {{ chain_typed("trimmed", keys) }}

),

missing_counted as (

    {{ chain_missing_counted("typed") }}

),

checked as (

    {{ chain_reasoned("missing_counted") }}

),

valid_rows as (

    select
        input_row_number,
        {{ chain_measure_columns() }}
    from checked
    where quarantine_reason is null

),

segment_centroids as (

    select * from {{ fitted }}segment_centroids

),

fitted_model as (

    select * from {{ fitted }}segmentation_models
    where model_id = (select any_value(model_id) from segment_centroids)

),

fitted_features as (

    -- impute values of every measure, scaling of the model features
    select * from {{ fitted }}fitted_features
    where model_id = (select fitted_model.model_id from fitted_model)

),

impute_row as (

    {{ chain_impute_row("fitted_features") }}

),

imputed as (

    {{ chain_imputed("valid_rows", "impute_row", keys) }}

),

scaling_row as (

    {{ chain_scaling_row("fitted_features") }}

),

standardized as (

    {{ chain_standardized("imputed", "scaling_row", keys) }}

),

assigned as (

    {{ chain_assigned(
        "standardized", "segment_centroids", "fitted_model", keys
    ) }}

),

segments_named as (

    select * from {{ fitted }}segments

),

thresholds as (

    select * from {{ fitted }}fitted_segments
    where model_id = (select fitted_model.model_id from fitted_model)

)

select
    checked.input_row_number,
    checked.cust_id,
    checked.quarantine_reason as rejection_reason,
    assigned.segment_id,
    segments_named.segment_name,
    assigned.distance_to_centroid,
    assigned.confidence,
    assigned.probability,
    assigned.second_segment_id,
    second.segment_name as second_segment_name,
    assigned.second_probability,
    assigned.third_segment_id,
    third.segment_name as third_segment_name,
    assigned.third_probability,
    assigned.reason_1_feature,
    assigned.reason_1_direction,
    assigned.reason_2_feature,
    assigned.reason_2_direction,
    assigned.reason_3_feature,
    assigned.reason_3_direction,
    assigned.distance_to_centroid > thresholds.distance_threshold
        as is_distance_anomaly,
    segments_named.crm_objective,
    segments_named.crm_actions,
    segments_named.crm_channel,
    segments_named.crm_priority,
    segments_named.risk_note,
    fitted_model.model_id
from checked
cross join fitted_model
left join assigned
    on checked.input_row_number = assigned.input_row_number
left join segments_named
    on assigned.segment_id = segments_named.segment_id
left join segments_named as second
    on assigned.second_segment_id = second.segment_id
left join segments_named as third
    on assigned.third_segment_id = third.segment_id
left join thresholds
    on assigned.segment_id = thresholds.segment_id
order by checked.input_row_number
{% endset %}

with

fitted_model as (

    select distinct model_id from {{ ref("segment_centroids") }}

),

final as (

    select
        model_id,
        {{ sql_literal(query) }} as query
    from fitted_model

)

select * from final
