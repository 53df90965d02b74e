{#-
    Post-hooks of the export models, which are views: write the view's rows
    to <external_root>/<model>.parquet and .csv, in the view's order
    (customer_segments is stored by cust_id; DuckDB keeps insertion order).

    COPY streams the rows to the file.  dbt-duckdb's external
    materialization first stages every row in a table inside one
    transaction; at 10 M customers two exports doing that at once ran out of
    DuckDB's memory.

    The CSV is opened in spreadsheets, which run a cell that starts with
    = + - @ tab or carriage return as a formula (CSV injection).  So in the
    CSV, and only there, such a text cell gets a leading single quote
    (OWASP's advice; the dashboard's download applies the same rule,
    cc_segmentation.apps.safe_text), unless the whole cell is a plain decimal
    number such as -5, which a spreadsheet reads as a number.  Numbers are
    written as numbers; the Parquet file and the warehouse keep every value
    as it is.  The export path reaches SQL as a quoted literal.
-#}
{% macro export_file(format) %}
    {{ return(adapter.dispatch("export_file", "cc_segmentation")(format)) }}
{% endmacro %}

{% macro default__export_file(format) %}
    {% set path = adapter.external_root() ~ "/" ~ this.identifier %}
    {% if format == "parquet" %}
        copy (select * from {{ this }})
        to {{ sql_literal(path ~ ".parquet") }} (format parquet)
    {% else %}
        copy (
            select
                {% for column in adapter.get_columns_in_relation(this) %}
                    {% set name = adapter.quote(column.name) %}
                    {% if column.is_string() %}
                        {{ csv_safe_text(name) }} as {{ name }},
                    {% else %}
                        {{ name }},
                    {% endif %}
                {% endfor %}
            from {{ this }}
        ) to {{ sql_literal(path ~ ".csv") }} (header true, delimiter ',')
    {% endif %}
{% endmacro %}

{#-
    On Spark a query writes a directory of part files, not one file:
    <exports>/<model>.parquet/ and <model>.csv/ (Spark's own layout, read
    back whole by Spark, DuckDB, pandas and pyarrow).  The exports root is
    $CC_SEGMENTATION_EXPORTS, as on DuckDB.
-#}
{% macro spark__export_file(format) %}
    {% set path = env_var("CC_SEGMENTATION_EXPORTS", "warehouse/exports")
        ~ "/" ~ this.identifier %}
    {% if format == "parquet" %}
        insert overwrite directory {{ sql_literal(path ~ ".parquet") }}
        using parquet
        select * from {{ this }}
    {% else %}
        insert overwrite directory {{ sql_literal(path ~ ".csv") }}
        using csv options (header "true", delimiter ",")
        select
            {% for column in adapter.get_columns_in_relation(this) %}
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
        from {{ this }}
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
