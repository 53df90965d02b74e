{#-
    A text as a SQL string literal: quoted, with its quotes escaped.  Every
    var or file name that reaches SQL as text goes through this (dbt's own
    string_literal does not escape).  DuckDB doubles a quote; Spark reads
    two adjacent literals as one concatenated text, so there a quote and a
    backslash are escaped with a backslash.
-#}
{% macro sql_literal(text) %}
    {{ return(adapter.dispatch("sql_literal", "cc_segmentation")(text)) }}
{% endmacro %}

{% macro default__sql_literal(text) %}
    {{ return("'" ~ (text | string | replace("'", "''")) ~ "'") }}
{% endmacro %}

{% macro spark__sql_literal(text) %}
    {{ return("'" ~ (text | string | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") }}
{% endmacro %}
