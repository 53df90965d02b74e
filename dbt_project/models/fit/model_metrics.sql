{#-
    How good the fitted segmentation is: one row for the model (scope
    'model') and one per segment (scope 'segment'), over the model's
    standardized matrix and the SQL assignment, computed in SQL as
    scikit-learn's metrics module computes them (int_model_metrics).
-#}
with

model_metrics as (

    select * from {{ ref("int_model_metrics") }}

),

final as (

    select
        model_id,
        scope,
        cast(segment_id as bigint) as segment_id,
        cast(n_customers as bigint) as n_customers,
        inertia,
        mean_distance,
        radius,
        silhouette,
        davies_bouldin,
        calinski_harabasz
    from model_metrics

)

select * from final
order by segment_id nulls first
