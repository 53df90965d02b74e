{#-
    The bins of each model and feature partition its fit customers: numbered
    1..n without gaps, each starting where the one below ends, the first
    open below and the last open above, and their customers adding up to
    the fit's.  Returns a row per (model, feature) where any of it fails.
-#}
with

feature_drift_bins as (

    select * from {{ ref("feature_drift_bins") }}

),

bins_in_order as (

    select
        *,
        lag(upper_edge) over (
            partition by model_id, feature_name order by bin_number
        ) as previous_upper_edge,
        count(*) over (partition by model_id, feature_name) as n_bins
    from feature_drift_bins

),

features as (

    select
        model_id,
        feature_name,
        max(n_bins) as n_bins,
        max(bin_number) as last_bin,
        sum(fit_customers) as fit_customers,
        max(n_fit_customers) as n_fit_customers,
        -- each bin starts where the one below ends (NULL = open)
        bool_and(
            lower_edge is not distinct from previous_upper_edge
        ) as is_contiguous,
        bool_and(
            (upper_edge is null) = (bin_number = n_bins)
        ) as is_open_above_only_at_the_top,
        bool_and(upper_edge > lower_edge) as edges_rise
    from bins_in_order
    group by model_id, feature_name

)

select * from features
where
    last_bin <> n_bins
    or fit_customers <> n_fit_customers
    or not is_contiguous
    or not is_open_above_only_at_the_top
    or not coalesce(edges_rise, true)
