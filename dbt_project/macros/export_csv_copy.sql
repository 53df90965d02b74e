{#-
    Post-hook of the export models: the external materialization writes
    Parquet; this writes the same rows as CSV next to it (same name, .csv),
    in the Parquet file's order (cust_id).
-#}
{% macro export_csv_copy() %}
    copy (select * from {{ this }})
    to '{{ adapter.external_root() }}/{{ this.identifier }}.csv'
    (header true, delimiter ',')
{% endmacro %}
