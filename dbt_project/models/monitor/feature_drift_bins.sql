{#-
    Fit-time baseline of the feature PSI (segment_drift): per model and
    model feature, the decile bins of the fit's customers' values and the
    share of those customers in each bin.

    Incremental and written once per model: a refit build whose model_id
    is not stored yet adds its rows; every other build (an unchanged
    rebuild, a scoring run with refit: false) adds nothing, so a model's
    baseline is never overwritten by the customers it later scores.

    The edges are the 10 %, ..., 90 % deciles (quantile_disc: a customer's
    own value) with ties collapsed, so a feature where 40 % of customers
    share one value has fewer, wider bins; fit_share is the share of
    customers the bin really holds, not 10 %.

    Bins are on the measures as the model reads them before scaling (the
    imputed values, int_customers_imputed), in their own units.  The model
    transforms them monotonically (log1p, z-score), which leaves every bin's
    members and so the PSI unchanged, and unlike z-scores they do not move
    with the last bits of a recomputed mean and standard deviation: on an
    unchanged rebuild a tie group on an edge (say the 66 % of customers who
    never pay in full) stays in its bin.
-#}
-- Ordered after segment_profiles for memory, not data (as scoring_runs
-- is after this): this and segment_profiles take exact quantiles of every
-- customer's measures (held in memory), and at 10 M customers the two at
-- once, or segment_profiles beside the history's insert and key test,
-- exceeded DuckDB's 4 GB.  The run's record, and with it the history,
-- follows this (scoring_runs).  The exports' files are written after every
-- model.
-- depends_on: {{ ref("segment_profiles") }}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}
{% set features = model_feature_names() %}

with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

scoring_model as (

    select * from {{ ref("int_scoring_model") }}

),

feature_scaling as (

    select * from {{ ref("feature_scaling") }}

),

stored_models as (

    {% if is_incremental() %}
        select kept.model_id from {{ this }} as kept
    {% else %}
        select model_id from scoring_model
        where false
    {% endif %}

),

new_model as (

    -- a scoring run's customers (refit: false) are not the fit's
    select model_id from scoring_model
    where
        is_fitted_on_this_file
        and model_id not in (select stored_models.model_id from stored_models)

),

fit_customers as (

    -- empty unless this build fitted a model without a baseline
    select customers_imputed.*
    from customers_imputed
    cross join new_model

),

deciles as (

    select
        {% for feature in features -%}
            {{ quantiles_disc(feature, drift_quantiles()) }}
                as {{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from fit_customers

),

decile_lists as (

    {{ unpivot_columns("deciles", features, "feature_name", "deciles") }}

),

edges as (

    select distinct
        feature_name,
        {{ unnest_list("deciles") }} as upper_edge
    from decile_lists

),

edge_bins as (

    select
        feature_name,
        upper_edge,
        row_number() over (
            partition by feature_name order by upper_edge
        ) as bin_number
    from edges

),

bins as (

    -- every edge closes a bin from above, and one open bin lies above all
    select
        feature_name,
        bin_number,
        upper_edge
    from edge_bins

    union all

    select
        feature_name,
        count(*) + 1 as bin_number,
        null as upper_edge
    from edge_bins
    group by feature_name

),

bin_counts as (

    {{ drift_bin_counts("fit_customers", "bins", features) }}

),

final as (

    select
        new_model.model_id,
        bins.feature_name,
        cast(feature_scaling.feature_position as integer) as feature_position,
        cast(bins.bin_number as integer) as bin_number,
        lag(bins.upper_edge) over (
            partition by bins.feature_name order by bins.bin_number
        ) as lower_edge,
        bins.upper_edge,
        bin_counts.n_in_bin as fit_customers,
        bin_counts.n_in_bin / bin_counts.n_customers as fit_share,
        bin_counts.n_customers as n_fit_customers,
        '{{ invocation_id }}' as fit_run_id,
        {{ as_of_timestamp() }} as fit_as_of
    from bins
    inner join bin_counts
        on
            bins.feature_name = bin_counts.feature_name
            and bins.bin_number = bin_counts.bin_number
    inner join feature_scaling
        on bins.feature_name = feature_scaling.feature_name
    cross join new_model

)

select * from final
order by model_id, feature_position, bin_number
