{#-
    The published warehouse's registry and runs, as a dbt source
    (models/staging/published/_published__sources.yml).

    Before any model runs, snapshot_published_state copies each table of
    the source `published` that the warehouse has into the schema
    <target schema>_published; published_state(name) is then that copy, or
    none when the warehouse had no such table (a first build, or
    --full-refresh, which starts the history afresh and so finds no
    champion).  This hook is the one place that looks a table up by name;
    every model and macro reads the copies through source(), so lineage
    shows them.  The columns the source declares were added to these tables
    after their first release: a copy from a warehouse built before then
    gets them, NULL, so no model needs to ask which columns a table has.
    on-run-end drops the schema: a published warehouse carries no copy of
    itself.
-#}

{#- The schema of the copies, as a relation (Spark has no database). -#}
{% macro published_schema() %}
    {{ return(api.Relation.create(
        database=target.database if target.database is defined else none,
        schema=target.schema ~ "_published",
    )) }}
{% endmacro %}


{% macro snapshot_published_state() %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% do drop_published_state(commit=false) %}
    {% do adapter.create_schema(published_schema()) %}
    {% for node in graph.sources.values()
        if node.package_name == project_name and node.source_name == "published" %}
        {% set lasting = adapter.get_relation(
            database=published_schema().database, schema=target.schema,
            identifier=node.name
        ) %}
        {% if lasting is not none and not flags.FULL_REFRESH %}
            {% set copy = source("published", node.name) %}
            {% do run_query(copy_table_as(copy, lasting)) %}
            {#- a column the source declares that a warehouse built before
                it existed lacks: NULL in the copy -#}
            {% set present = relation_columns(copy) %}
            {% for column in node.columns.values()
                if column.name | lower not in present %}
                {% do run_query(add_null_column(
                    copy, column.name, column.data_type
                )) %}
            {% endfor %}
        {% endif %}
    {% endfor %}
    {#- a hook's own statements are not committed for it: without this,
        the models (on other connections) would find no copy -#}
    {% do adapter.commit() %}
    {{ return("") }}
{% endmacro %}


{% macro drop_published_state(commit=true) %}
    {% if execute %}
        {% do adapter.drop_schema(published_schema()) %}
        {% if commit %}
            {% do adapter.commit() %}
        {% endif %}
    {% endif %}
    {{ return("") }}
{% endmacro %}


{#- The copy of a lasting table this build found, or none. -#}
{% macro published_state(name) %}
    {% set relation = source("published", name) %}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema,
        identifier=relation.identifier
    )) }}
{% endmacro %}


{% macro copy_table_as(relation, from_relation) %}
    {{ return(adapter.dispatch("copy_table_as")(relation, from_relation)) }}
{% endmacro %}

{% macro default__copy_table_as(relation, from_relation) %}
    create table {{ relation }} as select * from {{ from_relation }}
{% endmacro %}

{% macro spark__copy_table_as(relation, from_relation) %}
    create table {{ relation }} using parquet as select * from {{ from_relation }}
{% endmacro %}


{#-
    Lineage: a model that reads the published model's state (under
    refit: false, or to compare with the champion) calls this in a comment,
    so that its dependency on the source shows whatever the vars.  The
    published model itself is found in scoring_runs, segmentation_models,
    fitted_features and fitted_segments (published_model()); `also` names
    any other table the model reads.
-#}
{% macro reads_published_model(also=[]) %}
    {% set tables = [
        "scoring_runs", "segmentation_models", "fitted_features",
        "fitted_segments",
    ] + also %}
    {% for table in tables %}
        {% do source("published", table) %}
    {% endfor %}
    {{ return("reads the published model: " ~ tables | join(", ")) }}
{% endmacro %}


{% macro add_null_column(relation, name, data_type) %}
    {{ return(adapter.dispatch("add_null_column")(relation, name, data_type)) }}
{% endmacro %}

{% macro default__add_null_column(relation, name, data_type) %}
    alter table {{ relation }} add column {{ name }} {{ data_type }}
{% endmacro %}

{% macro spark__add_null_column(relation, name, data_type) %}
    alter table {{ relation }} add columns ({{ name }} {{ data_type }})
{% endmacro %}
