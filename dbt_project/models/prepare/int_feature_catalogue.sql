{#-
    The 17 raw measures with their position in the file, column name and
    kind (macro cc_features), as a table the marts join to.
-#}
with

catalogue as (

    select
        feature_position,
        feature_name,
        raw_column,
        kind
    from (
        values
        {% for feature in cc_features() -%}
            (
                {{ loop.index }},
                '{{ feature.name }}',
                '{{ feature.name | upper }}',
                '{{ feature.kind }}'
            ){% if not loop.last %},{% endif %}
        {% endfor %}
    -- the alias names the VALUES columns; sqlfluff misreads it as unused
    ) as catalogue ( -- noqa: AL05
        feature_position, feature_name, raw_column, kind
    )

)

select * from catalogue
