{#- One row per fit: what was fitted, on what, and how well. -#}
with

kmeans_fit as (

    select * from {{ ref("int_kmeans_fit") }}

),

models as (

    select distinct
        model_id,
        n_clusters,
        features,
        n_init,
        random_state,
        max_iter,
        inertia,
        n_iter,
        n_rows,
        input_fingerprint,
        fitted_at
    from kmeans_fit

),

final as (

    select
        model_id,
        n_clusters,
        features,
        n_init,
        random_state,
        max_iter,
        inertia,
        n_iter,
        n_rows,
        input_fingerprint,
        fitted_at,
        '{{ var("impute_method") }}' as impute_method,
        {{ var("log1p_money") in [true, "true", "True", 1] }} as is_log1p_money
    from models

)

select * from final
