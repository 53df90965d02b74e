{#-
    The model features' sample covariance matrix (17 x 17 with every
    feature), over every valid customer, in long form with each feature's
    mean: all that PCA needs (int_pca_fit), in one pass over the customers.

    Computed as scikit-learn's PCA computes it (solver covariance_eigh):
    (sum of products - n * mean_a * mean_b) / (n - 1).  Plain sums are also
    several times cheaper than covar_samp's running updates.
-#}
{% set features = model_feature_names() %}

with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

moments as (

    -- one row: every mean, and the sum of products of every pair a <= b
    select
        {% for a in features %}
            avg({{ a }}_z) as mean__{{ a }},
        {% endfor %}
        {% for a in features %}
            {% set position_a = loop.index %}
            {% for b in features if loop.index >= position_a %}
                sum({{ a }}_z * {{ b }}_z) as product__{{ a }}__{{ b }},
            {% endfor %}
        {% endfor %}
        count(*) as n_rows
    from customers_standardized

),

{% set pair_rows = [] %}
{% for a in features %}
    {% set position_a = loop.index %}
    {% for b in features %}
        {% set first, second = (a, b) if position_a <= loop.index else (b, a) %}
        {% do pair_rows.append({
            "feature_position_a": position_a,
            "feature_name_a": "'" ~ a ~ "'",
            "feature_position_b": loop.index,
            "feature_name_b": "'" ~ b ~ "'",
            "mean_a": "mean__" ~ a,
            "mean_b": "mean__" ~ b,
            "covariance": "(product__" ~ first ~ "__" ~ second
                ~ " - n_rows * mean__" ~ a ~ " * mean__" ~ b ~ ") / (n_rows - 1)",
        }) %}
    {% endfor %}
{% endfor %}

pairs as (

    select
        n_rows,
        {{ unnest_rows(pair_rows) }}
    from moments

),

final as (

    select
        feature_position_a,
        feature_name_a,
        feature_position_b,
        feature_name_b,
        mean_a,
        mean_b,
        covariance,
        n_rows
    from pairs

)

select * from final
order by feature_position_a, feature_position_b
