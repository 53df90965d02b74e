{#-
    Post-hook of the export models: the external materialization writes
    Parquet; this writes the same rows as CSV next to it (same name, .csv).
-#}
{% macro export_csv_copy() %}
    copy (select * from {{ this }} order by cust_id)
    to '{{ adapter.external_root() }}/{{ this.identifier }}.csv'
    (header true, delimiter ',')
{% endmacro %}
