{#-
    on-run-end: write every export model this run built to
    <external_root>/<model>.parquet and .csv, one file after the other, in
    the view's order (customer_segments is stored by cust_id; DuckDB keeps
    insertion order).  The export models are views and feed nothing; the
    files are written here, after every model and test, and not by
    post-hooks, so no COPY of every customer ever runs beside another heavy
    model (at 10 M customers two at once ran out of DuckDB's memory), with
    no ordering edge in the DAG.  An export that failed, or was skipped
    because a test upstream failed, writes no file.

    COPY streams the rows to the file.  dbt-duckdb's external
    materialization first stages every row in a table inside one
    transaction, which is why it is not used.

    The CSV is opened in spreadsheets, which run a cell that starts with
    = + - @ tab or carriage return as a formula (CSV injection).  So in the
    CSV, and only there, such a text cell gets a leading single quote
    (OWASP's advice; the dashboard's download applies the same rule,
    cc_segmentation.apps.safe_text), unless the whole cell is a plain decimal
    number such as -5, which a spreadsheet reads as a number.  Numbers are
    written as numbers; the Parquet file and the warehouse keep every value
    as it is.  The export path reaches SQL as a quoted literal.
-#}
{% macro export_files(results) %}
    {% if execute %}
        {% set built = [] %}
        {% for result in results %}
            {% if result.node.resource_type == "model"
                and result.node.config.meta.get("export_formats")
                and result.status == "success" %}
                {% do built.append(result.node) %}
            {% endif %}
        {% endfor %}
        {% for node in built | sort(attribute="name") %}
            {% set relation = api.Relation.create(
                database=node.database, schema=node.schema,
                identifier=node.alias
            ) %}
            {% for format in node.config.meta["export_formats"] %}
                {% do run_query(export_file(relation, format)) %}
            {% endfor %}
        {% endfor %}
    {% endif %}
    {{ return("") }}
{% endmacro %}

{#- The statement that writes one export model's rows in one format. -#}
{% macro export_file(relation, format) %}
    {{ return(adapter.dispatch("export_file", "cc_segmentation")(
        relation, format
    )) }}
{% endmacro %}

{% macro default__export_file(relation, format) %}
    {% set path = adapter.external_root() ~ "/" ~ relation.identifier %}
    {% if format == "parquet" %}
        copy (select * from {{ relation }})
        to {{ sql_literal(path ~ ".parquet") }} (format parquet)
    {% else %}
        copy (
            select
                {% for column in adapter.get_columns_in_relation(relation) %}
                    {% set name = adapter.quote(column.name) %}
                    {% if column.is_string() %}
                        {{ csv_safe_text(name) }} as {{ name }},
                    {% else %}
                        {{ name }},
                    {% endif %}
                {% endfor %}
            from {{ relation }}
        ) to {{ sql_literal(path ~ ".csv") }} (header true, delimiter ',')
    {% endif %}
{% endmacro %}

{#-
    On Spark a query writes a directory of part files, not one file:
    <exports>/<model>.parquet/ and <model>.csv/ (Spark's own layout, read
    back whole by Spark, DuckDB, pandas and pyarrow).  The exports root is
    $CC_SEGMENTATION_EXPORTS, as on DuckDB.
-#}
{% macro spark__export_file(relation, format) %}
    {% set path = env_var("CC_SEGMENTATION_EXPORTS", "warehouse/exports")
        ~ "/" ~ relation.identifier %}
    {% if format == "parquet" %}
        insert overwrite directory {{ sql_literal(path ~ ".parquet") }}
        using parquet
        select * from {{ relation }}
    {% else %}
        insert overwrite directory {{ sql_literal(path ~ ".csv") }}
        using csv options (header "true", delimiter ",")
        select
            {% for column in adapter.get_columns_in_relation(relation) %}
                {% set name = adapter.quote(column.name) %}
                {#- Spark names its text type string, which is_string()
                    does not know -#}
                {% if column.is_string() or column.dtype | lower == "string" %}
                    {{ csv_safe_text(name) }} as {{ name }}
                {% else %}
                    {{ name }}
                {% endif %}
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        from {{ relation }}
    {% endif %}
{% endmacro %}

{#- A text value as a spreadsheet may show it: no leading formula character. -#}
{% macro csv_safe_text(expression) %}
    {{ return(adapter.dispatch("csv_safe_text", "cc_segmentation")(expression)) }}
{% endmacro %}

{% macro default__csv_safe_text(expression) %}
    case
        when left({{ expression }}, 1) in ('=', '+', '-', '@', chr(9), chr(13))
            and not regexp_full_match(
                {{ expression }},
                '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?'
            )
            then '''' || {{ expression }}
        else {{ expression }}
    end
{% endmacro %}

{#-
    Spark has no regexp_full_match: rlike finds a match anywhere, so the
    number is anchored, at the end by \z (Java's $ also matches before a
    final line break).  Spark escapes a quote and a backslash with a
    backslash.
-#}
{% macro spark__csv_safe_text(expression) %}
    case
        when left({{ expression }}, 1) in ('=', '+', '-', '@', chr(9), chr(13))
            and not {{ expression }} rlike
                '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?\\z'
            then '\'' || {{ expression }}
        else {{ expression }}
    end
{% endmacro %}
