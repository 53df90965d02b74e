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
            as {{ feature }}__stddev,
        max(clip_low) filter (where feature_name = '{{ feature }}')
            as {{ feature }}__clip_low,
        max(clip_high) filter (where feature_name = '{{ feature }}')
            as {{ feature }}__clip_high{% if not loop.last %},{% endif %}
    {% endfor %}
{% endmacro %}


{#- select list: <feature>_z from imputed values and a scaling_columns row -#}
{% macro z_score_columns(values, scaling, features) %}
    {% for feature in features -%}
        (
            {{ clipped(
                transformed(
                    values ~ "." ~ feature,
                    scaling ~ "." ~ feature ~ "__transform",
                ),
                scaling ~ "." ~ feature,
            ) }}
            - {{ scaling }}.{{ feature }}__mean
        ) / {{ scaling }}.{{ feature }}__stddev
            as {{ feature }}_z{% if not loop.last %},{% endif %}
    {% endfor %}
{% endmacro %}


{#-
    A transformed value clipped to the fit's bounds (<prefix>__clip_low and
    <prefix>__clip_high of a scaling_columns row); a NULL bound (a model
    fitted without clipping) clips nothing: greatest and least skip NULLs.
-#}
{% macro clipped(value_sql, prefix) %}
    least(greatest({{ value_sql }}, {{ prefix }}__clip_low), {{ prefix }}__clip_high)
{% endmacro %}


{#-
    Select list: n_clipped_features, how many model features of the row lie
    outside the fit's clip bounds (scored at the bound: flagged, not dropped).
-#}
{% macro clipped_count_column(values, scaling, features) %}
    (
        {% for feature in features -%}
            coalesce(cast(
                {{ transformed(
                    values ~ "." ~ feature, scaling ~ "." ~ feature ~ "__transform"
                ) }} not between {{ scaling }}.{{ feature }}__clip_low
                and {{ scaling }}.{{ feature }}__clip_high as integer
            ), 0)
            {% if not loop.last %}+{% endif %}
        {% endfor %}
    ) as n_clipped_features
{% endmacro %}
