{#-
    One row per candidate k: the elbow (inertia), silhouette, Davies-Bouldin,
    Calinski-Harabasz and resampling stability, and which k the documented
    rule chose (cc_segmentation.segmentation.selection.choose_k; README "Choosing k"), for
    the current input and settings (int_k_selection_scores keeps every scan).
-#}
{% set is_legacy = execute and "decision" not in relation_columns(
    ref("int_k_selection_scores")
) %}

with

k_selection_scores as (

    select * from {{ ref("int_k_selection_scores") }}

),

fit_input_fingerprint as (

    select * from {{ ref("int_fit_input_fingerprint") }}

),

current_scan as (

    select k_selection_scores.*
    from k_selection_scores
    inner join fit_input_fingerprint
        on k_selection_scores.k_scan_key = fit_input_fingerprint.k_scan_key

),

final as (

    select
        cast(k as bigint) as k,
        inertia,
        silhouette,
        davies_bouldin,
        calinski_harabasz,
        stability,
        {% if is_legacy %}
            -- a scan stored before the estimate kept its error (refit: false
            -- on an older model): five resamples, no standard error
            cast(null as double) as stability_se,
            cast(5 as bigint) as n_resamples,
        {% else %}
            stability_se,
            cast(n_resamples as bigint) as n_resamples,
        {% endif %}
        smallest_segment_share,
        cast(n_iter as bigint) as n_iter,
        is_eligible,
        score,
        is_chosen,
        {% if is_legacy %}
            case
                when is_chosen then 'chosen: highest score among eligible k'
                else 'scanned before decisions were recorded'
            end as decision,
        {% else %}
            decision,
        {% endif %}
        cast(n_rows as bigint) as n_rows
    from current_scan

)

select * from final
order by k
