{#-
    One-row pivots of the fit state, for the steps of the scoring chain
    (scoring_chain.sql) that the pipeline and the scoring query share.
-#}

{#- select list: one column per measure with its impute value -#}
{% macro impute_value_columns(features) %}
    {% for feature in features -%}
        max(impute_value) filter (where feature_name = '{{ feature }}')
            as {{ feature }}{% if not loop.last %},{% endif %}
    {% endfor %}
{% endmacro %}


{#- select list: transform, mean and stddev of each model feature -#}
{% macro scaling_columns(features) %}
    {% for feature in features -%}
        max(transform) filter (where feature_name = '{{ feature }}')
            as {{ feature }}__transform,
        max(mean) filter (where feature_name = '{{ feature }}')
            as {{ feature }}__mean,
        max(stddev) filter (where feature_name = '{{ feature }}')
            as {{ feature }}__stddev{% if not loop.last %},{% endif %}
    {% endfor %}
{% endmacro %}


{#- select list: <feature>_z from imputed values and a scaling_columns row -#}
{% macro z_score_columns(values, scaling, features) %}
    {% for feature in features -%}
        (
            {{ transformed(
                values ~ "." ~ feature, scaling ~ "." ~ feature ~ "__transform"
            ) }}
            - {{ scaling }}.{{ feature }}__mean
        ) / {{ scaling }}.{{ feature }}__stddev
            as {{ feature }}_z{% if not loop.last %},{% endif %}
    {% endfor %}
{% endmacro %}
