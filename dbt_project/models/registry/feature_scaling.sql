{#-
    The scaling of the model this build scores with, as people read it:
    int_feature_scaling, the fit state the intermediate models use, under
    its contract.
-#}
with

feature_scaling as (
    select * from {{ ref("int_feature_scaling") }}
),

final as (
    select
        feature_name,
        feature_position,
        raw_column,
        impute_value,
        impute_method,
        transform,
        mean,
        stddev,
        clip_low,
        clip_high,
        n_clipped,
        n_rows,
        is_constant
    from feature_scaling
)

select * from final
order by feature_position
