{#-
    Scoring without refitting (var refit: false).

    A refit: false build scores the raw file with the model the published
    warehouse uses: the model_id of the last scoring run recorded in
    scoring_runs.  Its fit state is read from the registry as this build
    found it, the source `published` (macros/registry/published_state.sql):
    fitted_features (impute values and scaling), fitted_segments (anomaly
    thresholds), segmentation_models and int_kmeans_fits (settings and
    centroids).  The models that read it say so with
    reads_published_model(), so that lineage shows the source whatever the
    vars.
-#}


{#- The lower-case column names of a relation (none before execution). -#}
{% macro relation_columns(relation) %}
    {% if not execute or relation is none %}
        {{ return([]) }}
    {% endif %}
    {{ return(adapter.get_columns_in_relation(relation)
        | map(attribute="name") | map("lower") | list) }}
{% endmacro %}


{#-
    The published model a refit: false build scores with: a dict with its
    model_id, features, n_clusters, impute_method and is_log1p_money, or a
    problem (text) when there is none to use.
-#}
{% macro published_model() %}
    {% set runs = published_state("scoring_runs") %}
    {% set models = published_state("segmentation_models") %}
    {% set features = published_state("fitted_features") %}
    {% set segments = published_state("fitted_segments") %}
    {% if runs is none or models is none or features is none or segments is none %}
        {{ return({"problem":
            "the published warehouse has no recorded scoring run with a"
            ~ " stored fit state (it was never built, or built before"
            ~ " fit states were stored)"}) }}
    {% endif %}
    {% set found = run_query(
        "select runs.model_id, models.features, models.n_clusters,"
        ~ " models.impute_method, models.is_log1p_money,"
        ~ " (select count(*) from " ~ features
        ~ " where model_id = runs.model_id),"
        ~ " (select count(*) from " ~ segments
        ~ " where model_id = runs.model_id)"
        ~ " from (select model_id from " ~ runs
        ~ " order by run_number desc limit 1) as runs"
        ~ " left join " ~ models ~ " as models"
        ~ " on runs.model_id = models.model_id"
    ).rows %}
    {% if found | length == 0 %}
        {{ return({"problem":
            "the published warehouse has no recorded scoring run"}) }}
    {% endif %}
    {% set row = found[0] %}
    {% if row[1] is none or row[5] == 0 or row[6] == 0 %}
        {{ return({"problem":
            "the fit state of the published model " ~ row[0]
            ~ " is missing from the warehouse"}) }}
    {% endif %}
    {{ return({
        "model_id": row[0],
        "features": row[1],
        "n_clusters": row[2],
        "impute_method": row[3],
        "is_log1p_money": row[4],
    }) }}
{% endmacro %}


{#-
    on-run-start: a refit: false build stops before any model runs, with
    what to do, when there is no published model or the vars that shape
    the scoring SQL differ from the ones the model was fitted with.
-#}
{% macro check_published_model() %}
    {% if not execute or refit() %}
        {{ return("") }}
    {% endif %}
    {% set model = published_model() %}
    {% if model.problem %}
        {{ exceptions.raise_compiler_error(
            "refit: false scores with the published model, but "
            ~ model.problem ~ ". Build once with refit: true (the default)"
            ~ " first; nothing was built."
        ) }}
    {% endif %}
    {% set problems = [] %}
    {% set features = model_feature_names() | join(",") %}
    {% if features != model.features %}
        {% do problems.append(
            "features " ~ features ~ " (the model's: " ~ model.features ~ ")"
        ) %}
    {% endif %}
    {% if var("impute_method") != model.impute_method %}
        {% do problems.append(
            "impute_method " ~ var("impute_method")
            ~ " (the model's: " ~ model.impute_method ~ ")"
        ) %}
    {% endif %}
    {% if var_flag(var("log1p_money")) != model.is_log1p_money %}
        {% do problems.append(
            "log1p_money " ~ var_flag(var("log1p_money"))
            ~ " (the model's: " ~ model.is_log1p_money ~ ")"
        ) %}
    {% endif %}
    {% if problems %}
        {{ exceptions.raise_compiler_error(
            "refit: false scores with the published model "
            ~ model.model_id ~ ", but these vars differ from its fit: "
            ~ problems | join("; ") ~ ". Drop them, or refit; nothing was"
            ~ " built."
        ) }}
    {% endif %}
    {% do log(
        "refit: false: scoring with the published model " ~ model.model_id
        ~ " (k = " ~ model.n_clusters ~ ")", info=true
    ) %}
    {{ return("") }}
{% endmacro %}


{#- The published model's id, for models that read its fit state. -#}
{% macro frozen_model_id() %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set model = published_model() %}
    {% if model.problem %}
        {#- check_published_model stops the build first; this is a backstop -#}
        {{ exceptions.raise_compiler_error("refit: false: " ~ model.problem) }}
    {% endif %}
    {{ return(model.model_id) }}
{% endmacro %}
