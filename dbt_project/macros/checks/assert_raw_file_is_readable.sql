{#-
    Stops the build, before anything is read, when the raw file cannot be
    segmented as a whole: it is missing, empty, has no data rows, or its header
    is not exactly the 18 expected columns in order (the CSV is read by
    position, so order matters).  A glob's files are checked one by one.
    The message names the file and the columns.
    Row-level problems are not handled here: they are quarantined downstream.
-#}
{#- The files of a glob (or the one file), in name order. -#}
{% macro raw_files(path) %}
    {{ return(adapter.dispatch("raw_files", "cc_segmentation")(path)) }}
{% endmacro %}

{% macro default__raw_files(path) %}
    {% set found = run_query(
        "select file from glob(" ~ sql_literal(path) ~ ") order by file"
    ) %}
    {{ return(found.columns[0].values() | list) }}
{% endmacro %}

{#- binaryFile lists the files; its content column is not read unless asked for. -#}
{% macro spark__raw_files(path) %}
    {% set found = run_query(
        "select path from binaryFile." ~ spark_path(path) ~ " order by path"
    ) %}
    {{ return(found.columns[0].values() | list) }}
{% endmacro %}

{% macro assert_raw_file_is_readable(path) %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set expected = ["CUST_ID"] + (cc_feature_names() | map("upper") | list) %}
    {% set files = raw_files(path) %}
    {% if files | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ path ~ " does not exist. Pass your file with "
            ~ "--vars '{raw_path: path/to/CC_GENERAL.csv}' or generate the "
            ~ "sample (see README)."
        ) }}
    {% endif %}

    {#- A glob is read by position, file after file: every file's header
        is checked, or one file with its columns in another order would be
        read with its values under the wrong names. -#}
    {% set has_data = [] %}
    {% for file in files %}
        {% do has_data.append(assert_raw_header(file, expected)) %}
    {% endfor %}
    {% if true not in has_data %}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ path ~ " has a header but no data rows."
        ) }}
    {% endif %}
    {{ return("") }}
{% endmacro %}


{#- Stops on one file's bad header; true when the file has a data row. -#}
{% macro assert_raw_header(file, expected) %}
    {% set read = raw_header(file, expected) %}
    {% set header = read[0] %}
    {% set has_data = read[1] %}

    {% set names = [] %}
    {% for h in header %}
        {% do names.append((h or "") | trim | trim('"') | upper) %}
    {% endfor %}
    {% if names != expected %}
        {% set missing = expected | reject("in", names) | list %}
        {% set unexpected = names | reject("in", expected) | list %}
        {{ exceptions.raise_compiler_error(
            "Raw file " ~ file ~ " has the wrong header. "
            ~ ("Its columns are in another order (it is read by position). "
               if not missing and not unexpected else "")
            ~ "Missing columns: [" ~ missing | join(", ") ~ "]. "
            ~ "Unexpected columns: [" ~ unexpected | join(", ") ~ "]. "
            ~ "Expected exactly, in this order: " ~ expected | join(", ")
            ~ ". Found: " ~ names | join(", ") ~ "."
        ) }}
    {% endif %}
    {{ return(has_data) }}
{% endmacro %}


{#-
    A file's header (a list of names) and whether it has a data row.  A CSV
    is read as whole lines (no sniffing: a ragged row must not hide the
    header problem) and its header split on commas.
-#}
{% macro raw_header(file, expected) %}
    {% set reads = raw_file_reads(file) %}
    {% if file.lower().endswith(".parquet") %}
        {% set header = run_query(reads.parquet_columns).columns[0].values()
            | list %}
        {% set rows = run_query(
            "select count(*) from (" ~ reads.parquet_rows ~ " limit 1)"
        ) %}
        {% set has_data = rows.columns[0].values()[0] > 0 %}
    {% else %}
        {% set head = run_query(reads.csv_lines ~ " limit 2") %}
        {% if head.rows | length == 0 %}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ file ~ " is empty: expected a header with the "
                ~ "columns " ~ expected | join(", ") ~ " and one row per customer."
            ) }}
        {% endif %}
        {% set header = (head.rows[0][0] or "").split(",") %}
        {% set has_data = head.rows | length > 1 %}
    {% endif %}
    {{ return([header, has_data]) }}
{% endmacro %}

{#-
    The queries raw_header runs, as each engine writes them: a Parquet
    file's column names, its rows, and a CSV file's whole lines in order.
-#}
{% macro raw_file_reads(file) %}
    {{ return(adapter.dispatch("raw_file_reads", "cc_segmentation")(file)) }}
{% endmacro %}

{% macro default__raw_file_reads(file) %}
    {% set quoted = sql_literal(file) %}
    {{ return({
        "parquet_columns": "select column_name from (describe select * from "
            ~ "read_parquet(" ~ quoted ~ "))",
        "parquet_rows": "select 1 from read_parquet(" ~ quoted ~ ")",
        "csv_lines": "select * from read_csv(" ~ quoted ~ ", header = false, "
            ~ "auto_detect = false, delim = chr(31), quote = '', escape = '', "
            ~ "columns = struct_pack(line := 'VARCHAR'))",
    }) }}
{% endmacro %}

{#- The text source reads a file's lines in order from its first split. -#}
{% macro spark__raw_file_reads(file) %}
    {{ return({
        "parquet_columns": "describe query select * from parquet."
            ~ spark_path(file),
        "parquet_rows": "select 1 from parquet." ~ spark_path(file),
        "csv_lines": "select value from text." ~ spark_path(file),
    }) }}
{% endmacro %}

{#- A path as a Spark file-source identifier (format.`path`). -#}
{% macro spark_path(path) %}
    {{ return("`" ~ (path | replace("`", "``")) ~ "`") }}
{% endmacro %}
