{#-
    One row per candidate k: the elbow (inertia), silhouette, Davies-Bouldin,
    Calinski-Harabasz and resampling stability, and which k the documented
    rule chose (cc_segmentation.selection.choose_k; README "Choosing k").
-#}
with

k_selection_scores as (

    select * from {{ ref("int_k_selection_scores") }}

),

final as (

    select
        cast(k as bigint) as k,
        inertia,
        silhouette,
        davies_bouldin,
        calinski_harabasz,
        stability,
        smallest_segment_share,
        cast(n_iter as bigint) as n_iter,
        is_eligible,
        score,
        is_chosen,
        cast(n_rows as bigint) as n_rows
    from k_selection_scores

)

select * from final
order by k
