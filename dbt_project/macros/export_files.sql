{#-
    Post-hooks of the export models, which are views: write the view's rows
    to <external_root>/<model>.parquet and .csv, in the view's order
    (customer_segments is stored by cust_id; DuckDB keeps insertion order).

    COPY streams the rows to the file.  dbt-duckdb's external
    materialization first stages every row in a table inside one
    transaction; at 10 M customers two exports doing that at once ran out of
    DuckDB's memory.
-#}
{% macro export_file(format) %}
    {% set path = adapter.external_root() ~ "/" ~ this.identifier %}
    {% if format == "parquet" %}
        copy (select * from {{ this }}) to '{{ path }}.parquet' (format parquet)
    {% else %}
        copy (select * from {{ this }})
        to '{{ path }}.csv' (header true, delimiter ',')
    {% endif %}
{% endmacro %}
