{#-
    The champion: the model the published warehouse scores with (the last
    recorded scoring run's, macros/registry/frozen_model.sql), as this build found
    it.  A dict (model_id, features, n_clusters, impute_method,
    is_log1p_money) or none when the warehouse has none to use (a first
    build, or --full-refresh).
-#}
{% macro published_champion() %}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {% set champion = published_model() %}
    {{ return(none if champion.problem else champion) }}
{% endmacro %}


{#- The champion's lasting segment ids, in order (int_segment_history). -#}
{% macro champion_segment_ids(model_id) %}
    {% if not execute %}
        {{ return([1]) }}
    {% endif %}
    {{ return(distinct_segment_ids(
        published_state("int_segment_history"),
        "model_id = " ~ sql_literal(model_id) ~ " and fit_segment_id is not null"
    )) }}
{% endmacro %}


{#- This build's model id (the challenger's), once it is known. -#}
{% macro challenger_model_id() %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set result = run_query(
        "select model_id from " ~ ref("int_kmeans_fit_settings")
    ) %}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}
