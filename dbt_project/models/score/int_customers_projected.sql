{#-
    Every valid customer on the first two principal components of the
    model this build scores with (pca_components):
    pca_x = sum over features of (z - center) * loading of component 1,
    pca_y the same for component 2.
-#}
with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

pca_components as (

    select * from {{ ref("pca_components") }}

),

pca_row as (

    -- One row, two columns per feature and component.
    select
        {% for component in [1, 2] -%}
            {% set outer = loop -%}
            {% for feature in model_feature_names() -%}
                max(loading) filter (
                    where component = {{ component }}
                    and feature_name = '{{ feature }}'
                ) as loading_{{ component }}__{{ feature }},
                max(center) filter (
                    where component = {{ component }}
                    and feature_name = '{{ feature }}'
                ) as center_{{ component }}__{{ feature }}
                {%- if not (loop.last and outer.last) %},{% endif %}
            {% endfor %}
        {% endfor %}
    from pca_components
    {{ one_row_pivot_grouping() }}

),

projected as (

    select
        customers_standardized.cust_id,
        {% for component, name in [(1, "pca_x"), (2, "pca_y")] -%}
            (
                {% for feature in model_feature_names() -%}
                    (
                        customers_standardized.{{ feature }}_z
                        - pca_row.center_{{ component }}__{{ feature }}
                    ) * pca_row.loading_{{ component }}__{{ feature }}
                    {% if not loop.last %}+{% endif %}
                {% endfor %}
            ) as {{ name }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers_standardized
    cross join pca_row

)

select * from projected
