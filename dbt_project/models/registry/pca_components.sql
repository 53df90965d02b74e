{#-
    The PCA behind the 2-D map of customers: loadings, centering and
    explained variance of the first two components of the model matrix.
    customer_segments.pca_x / pca_y are computed from this table in SQL.
-#}
with

pca_fit as (

    select * from {{ ref("int_pca_fit") }}

),

final as (

    select
        cast(component as bigint) as component,
        feature_name,
        cast(feature_position as bigint) as feature_position,
        loading,
        center,
        explained_variance,
        explained_variance_ratio
    from pca_fit

)

select * from final
order by component, feature_position
