{#-
    The fit state of every model, per measure, kept for as long as the
    warehouse (incremental): the impute value of each of the 17 measures
    and, for the model features, the transform, clip bounds, mean and
    standard deviation of the z-score.  A model's rows are written once, by the build that
    fits it, and never rewritten: a refit: false build scores with them
    (int_feature_impute_values and feature_scaling read them), and so does
    scoring_query.  Models stored before clipping existed get NULL clip
    bounds (on_schema_change append_new_columns): they clip nothing.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="append_new_columns",
) }}

with

feature_impute_values as (

    select * from {{ ref("int_feature_impute_values") }}

),

feature_scaling as (

    select * from {{ ref("feature_scaling") }}

),

kmeans_fit_settings as (

    select * from {{ ref("int_kmeans_fit_settings") }}

),

measures as (

    select
        feature_name,
        impute_method,
        impute_value,
        n_reported,
        upper(feature_name) as raw_column
    from feature_impute_values

),

final as (

    select
        kmeans_fit_settings.model_id,
        measures.feature_name,
        measures.raw_column,
        feature_scaling.feature_position,
        measures.impute_method,
        measures.impute_value,
        measures.n_reported,
        feature_scaling.transform,
        feature_scaling.mean,
        feature_scaling.stddev,
        feature_scaling.is_constant,
        feature_scaling.n_rows,
        feature_scaling.clip_low,
        feature_scaling.clip_high,
        feature_scaling.n_clipped,
        feature_scaling.feature_name is not null as is_model_feature
    from measures
    cross join kmeans_fit_settings
    left join feature_scaling
        on measures.feature_name = feature_scaling.feature_name

)

select * from final
{% if is_incremental() %}
    -- a model's fit state is written once, by the build that fits it
    where model_id not in (select kept.model_id from {{ this }} as kept)
{% endif %}
order by model_id, feature_position nulls last, feature_name
