{#-
    A text as a SQL string literal: quoted, with its quotes doubled.  Every
    var or file name that reaches SQL as text goes through this (dbt's own
    string_literal does not escape).
-#}
{% macro sql_literal(text) %}
    {{ return("'" ~ (text | string | replace("'", "''")) ~ "'") }}
{% endmacro %}
