{#-
    The scoring chain: raw text -> trimmed -> typed -> missing counted ->
    reasoned (quarantine_reason) -> measures -> imputed -> standardized ->
    assigned.  The pipeline runs it as stg_cc_general__customers,
    int_customers_validated, int_customers_imputed, int_customers_standardized
    and int_customers_assigned; scoring_query runs the same macros on uploaded
    customers.  Each step renders one select from its input (a relation or a
    CTE name), so each rule is written here once and both sides follow it.

    `keys` are the columns that identify a row and pass through each step
    unchanged: source_row_number (and later cust_id) in the pipeline,
    input_row_number in the scoring query.  Fitted tables (impute values,
    feature scaling, centroids, the fitted model) are parameters too: refs in
    the pipeline, the attached warehouse's tables in the scoring query.
-#}

{#- Staging: every raw value as trimmed text, NULL when empty or blank. -#}
{% macro chain_trimmed(input, keys) %}
    select
        {% for key in keys -%}
            {{ key }},
        {% endfor -%}
        {% for column in ["cust_id"] + cc_feature_names() -%}
            nullif(trim(cast({{ column }} as string)), '')
                as {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ input }}
{% endmacro %}


{#-
    Each measure as read (raw_<name>) and as a number (typed_<name>, NULL
    when it is not one), and how many rows of the input share the row's
    cust_id: a batch is checked like a raw file, so an id given twice is
    ambiguous in both.
-#}
{% macro chain_typed(input, keys) %}
    select
        {% for key in keys -%}
            {{ key }},
        {% endfor -%}
        cust_id,
        {% for feature in cc_feature_names() -%}
            {{ feature }} as raw_{{ feature }},
            try_cast({{ feature }} as double) as typed_{{ feature }},
        {% endfor -%}
        count(*) over (partition by cust_id) as cust_id_occurrences
    from {{ input }}
{% endmacro %}


{#- n_missing_measures: how many of the 17 measures are empty. -#}
{% macro chain_missing_counted(input) %}
    select
        *,
        (
            {% for feature in cc_feature_names() -%}
                (raw_{{ feature }} is null)::integer
                {% if not loop.last %}+{% endif %}
            {% endfor %}
        ) as n_missing_measures
    from {{ input }}
{% endmacro %}


{#- quarantine_reason: why the row cannot be segmented, or NULL. -#}
{% macro chain_reasoned(input) %}
    select
        *,
        {{ quarantine_reason() }} as quarantine_reason
    from {{ input }}
{% endmacro %}


{#-
    Select list: each measure in its typed (and, for frequencies, capped)
    form, named after the measure: what imputation starts from.
-#}
{% macro chain_measure_columns() -%}
    {%- for feature in cc_features() %}
        {{ typed_measure(feature) }} as {{ feature.name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}


{#- One row, one column per measure, so the customers join it once. -#}
{% macro chain_impute_row(impute_values) %}
    select {{ impute_value_columns(cc_feature_names()) }}
    from {{ impute_values }}
{% endmacro %}


{#-
    Every missing measure of the (valid) rows of `input` replaced by its
    fitted impute value from `impute_row`, and is_imputed_<name> per
    measure.
-#}
{% macro chain_imputed(input, impute_row, keys) %}
    select
        {% for key in keys -%}
            {{ input }}.{{ key }},
        {% endfor -%}
        {% for feature in cc_feature_names() -%}
            coalesce(
                cast({{ input }}.{{ feature }} as double),
                {{ impute_row }}.{{ feature }}
            ) as {{ feature }},
        {% endfor -%}
        {% for feature in cc_feature_names() -%}
            {{ input }}.{{ feature }} is null
                as is_imputed_{{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ input }}
    cross join {{ impute_row }}
{% endmacro %}


{#- One row, three columns per model feature, so the customers join it once. -#}
{% macro chain_scaling_row(feature_scaling, features=none) %}
    select {{ scaling_columns(features or model_feature_names()) }}
    from {{ feature_scaling }}
{% endmacro %}


{#-
    Each model feature as a z-score, from the stored fit state in
    `scaling_row` (transform, clip bounds, mean, stddev), never from the rows
    scored; with count_clipped, n_clipped_features too.  `features`: the
    model's (default), or another model's (the champion's, when the gate
    compares).
-#}
{% macro chain_standardized(
    input, scaling_row, keys, count_clipped=false, features=none
) %}
    {% set features = features or model_feature_names() %}
    select
        {% for key in keys -%}
            {{ input }}.{{ key }},
        {% endfor -%}
        {% if count_clipped -%}
            {{ clipped_count_column(input, scaling_row, features) }},
        {% endif -%}
        {{ z_score_columns(input, scaling_row, features) }}
    from {{ input }}
    cross join {{ scaling_row }}
{% endmacro %}


{#-
    Every row to its nearest centroid (macro nearest_centroid), with the
    membership temperature of `fitted_model` (a relation with a
    membership_temperature column).
-#}
{% macro chain_assigned(input, centroids, fitted_model, keys) %}
    {{ nearest_centroid(
        input,
        centroids,
        model_feature_names(),
        fitted_segment_ids(),
        "(select max(membership_temperature) from " ~ fitted_model ~ ")",
        keys=keys,
    ) }}
{% endmacro %}
