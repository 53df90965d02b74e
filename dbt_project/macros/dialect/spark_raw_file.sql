{#-
    The raw file on Spark.  DuckDB reads var('raw_path') in place through the
    source's external_location; Spark reads files through a table, so on the
    spark target the staging model first (re)defines the source
    cc_general.customers as an external table over the file: every column
    text, as on DuckDB, a CSV's dialect given in full, and FAILFAST, so a
    ragged row stops the build with Spark's error naming the file instead of
    being read as a short row.  A Parquet file's own columns are taken.
-#}
{% macro register_raw_source(path) %}
    {{ return(adapter.dispatch("register_raw_source", "cc_segmentation")(path)) }}
{% endmacro %}

{% macro default__register_raw_source(path) %}
    {{ return("") }}
{% endmacro %}

{% macro spark__register_raw_source(path) %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set relation = source("cc_general", "customers") %}
    {#- A table's relative path would resolve against its database's
        location: make it absolute against the working directory, as
        DuckDB reads it (a path with a scheme, such as s3a:// or hdfs://,
        or an absolute one is kept). -#}
    {% if not modules.re.match("^([a-zA-Z][a-zA-Z0-9+.-]*:|/)", path) %}
        {% set cwd = run_query(
            "select reflect('java.lang.System', 'getProperty', 'user.dir')"
        ).columns[0].values()[0] %}
        {% set path = cwd ~ "/" ~ path %}
    {% endif %}
    {% do run_query("create schema if not exists " ~ relation.schema) %}
    {% do run_query("drop table if exists " ~ relation) %}
    {% if path.lower().endswith(".parquet") %}
        {% do run_query(
            "create table " ~ relation ~ " using parquet options (path "
            ~ sql_literal(path) ~ ")"
        ) %}
    {% else %}
        {% set columns = [] %}
        {% for name in ["CUST_ID"] + (cc_feature_names() | map("upper") | list) %}
            {% do columns.append(name ~ " string") %}
        {% endfor %}
        {% do run_query(
            "create table " ~ relation ~ " (" ~ columns | join(", ") ~ ")"
            ~ " using csv options (path " ~ sql_literal(path)
            ~ ", header 'true', sep ',', quote '\"', escape '\"'"
            ~ ", mode 'FAILFAST', enforceSchema 'true', multiLine 'false')"
        ) %}
    {% endif %}
    {{ return("") }}
{% endmacro %}


{#-
    A raw row's position in its file, counted from 1 over the files of a
    glob in name order: what quarantine reports cite.  DuckDB's scan keeps
    file order (preserve_insertion_order), so row_number() over () is it.
    Spark reads a file in splits; within a split rows come in file order,
    so the position is the order of (file, split offset, row in the split).
-#}
{% macro file_row_number() %}
    {{ return(adapter.dispatch("file_row_number", "cc_segmentation")()) }}
{% endmacro %}

{% macro default__file_row_number() %}
    row_number() over ()
{% endmacro %}

{#- Spark's row_number() is an int; DuckDB's, and the contracts', a bigint. -#}
{% macro spark__file_row_number() %}
    cast(row_number() over (
        order by
            _metadata.file_path,
            _metadata.file_block_start,
            monotonically_increasing_id()
    ) as bigint)
{% endmacro %}
