{#-
    delete+insert on Spark.  The project's incremental models replace the
    rows of one key (model_id, k_scan_key, ...) with delete+insert, which
    DuckDB has built in.  dbt-spark offers append, merge (Delta, Iceberg and
    Hudi only) and insert_overwrite; the spark target stores Parquet, which
    has no DELETE.  So here delete+insert keeps the target's rows of other
    keys and the new rows in a table beside it, then puts that table in the
    target's place: the same rows as DuckDB's delete+insert, with the
    model's own config unchanged.  The incremental tables that use it are
    small (fit state and caches, one set of rows per key).

    These two macros take the place of dbt-spark's own for this project (a
    project's macro wins over an adapter's of the same name) and hand every
    other strategy to dbt-spark.
-#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {% if raw_strategy == "delete+insert" %}
        {{ return(raw_strategy) }}
    {% endif %}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(
        raw_strategy, file_format
    )) }}
{% endmacro %}


{% macro dbt_spark_get_incremental_sql(
    strategy, source, target, existing, unique_key, incremental_predicates
) %}
    {% if strategy != "delete+insert" %}
        {{ return(dbt.dbt_spark_get_incremental_sql(
            strategy, source, target, existing, unique_key, incremental_predicates
        )) }}
    {% endif %}
    {% if unique_key is none or unique_key is not string %}
        {% do exceptions.raise_compiler_error(
            "delete+insert on Spark needs one unique_key column, got "
            ~ unique_key
        ) %}
    {% endif %}
    {% set columns = adapter.get_columns_in_relation(target)
        | map(attribute="name") | list %}
    {% set kept = target.incorporate(
        path={"identifier": target.identifier ~ "__dbt_kept"}
    ) %}
    {% do run_query("drop table if exists " ~ kept) %}
    {% do run_query(
        "create table " ~ kept ~ " using parquet as"
        ~ " select * from " ~ target
        ~ " where " ~ unique_key ~ " is null or " ~ unique_key
        ~ " not in (select " ~ unique_key ~ " from " ~ source
        ~ " where " ~ unique_key ~ " is not null)"
        ~ " union all select " ~ (columns | join(", ")) ~ " from " ~ source
    ) %}
    {% do run_query("drop table " ~ target) %}
    {% do run_query("alter table " ~ kept ~ " rename to " ~ target) %}
    {{ return("select 1") }}
{% endmacro %}
