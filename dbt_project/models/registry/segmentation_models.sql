{#-
    One row per fit, every fit kept (incremental): what was fitted, on what,
    and how well.  Rebuilding the same model replaces its row.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="delete+insert",
    unique_key="model_id",
    on_schema_change="append_new_columns",
) }}

with

kmeans_fit as (

    select * from {{ ref("int_kmeans_fit") }}

),

feature_scaling as (

    select * from {{ ref("feature_scaling") }}

),

fit_input_fingerprint as (

    select * from {{ ref("int_fit_input_fingerprint") }}

),

preprocessing as (

    select
        any_value(impute_method) as impute_method,
        bool_or(transform = 'log1p') as is_log1p_money
    from feature_scaling

),

models as (

    -- the fit's model-level columns repeat on every centroid row
    select distinct
        kmeans_fit.model_id,
        kmeans_fit.n_clusters,
        kmeans_fit.features,
        kmeans_fit.n_init,
        kmeans_fit.random_state,
        kmeans_fit.max_iter,
        kmeans_fit.inertia,
        kmeans_fit.membership_temperature,
        kmeans_fit.n_iter,
        kmeans_fit.n_rows,
        kmeans_fit.input_fingerprint,
        fit_input_fingerprint.k_scan_key,
        -- the contract's type, whichever timestamp the fit's engine wrote
        cast(kmeans_fit.fitted_at as timestamp) as fitted_at,
        preprocessing.impute_method,
        preprocessing.is_log1p_money
    from kmeans_fit
    cross join preprocessing
    cross join fit_input_fingerprint

)

select * from models
