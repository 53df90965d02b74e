{#-
    The PCA behind this run's 2-D map of customers: loadings, centering and
    explained variance of the first two components, those of the model
    this build scores with (fitted_pca, int_scoring_model).
    customer_segments.pca_x / pca_y are computed from this table in SQL.
-#}
with

fitted_pca as (

    select * from {{ ref("fitted_pca") }}

),

scoring_model as (

    select * from {{ ref("int_scoring_model") }}

),

final as (

    select
        fitted_pca.component,
        fitted_pca.feature_name,
        fitted_pca.feature_position,
        fitted_pca.loading,
        fitted_pca.center,
        fitted_pca.explained_variance,
        fitted_pca.explained_variance_ratio
    from fitted_pca
    inner join scoring_model
        on fitted_pca.model_id = scoring_model.model_id

)

select * from final
order by component, feature_position
