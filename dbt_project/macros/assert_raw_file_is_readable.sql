{#-
    Stops the build, before anything is read, when the raw file cannot be
    segmented as a whole: it is missing, empty, has no data rows, or its header
    is not exactly the 18 expected columns in order (the CSV is read by
    position, so order matters).  A glob's files are checked one by one.
    The message names the file and the columns.
    Row-level problems are not handled here: they are quarantined downstream.
-#}
{% macro assert_raw_file_is_readable(path) %}
    {% if not execute %}
        {{ return("") }}
    {% endif %}
    {% set expected = ["CUST_ID"] + (cc_feature_names() | map("upper") | list) %}
    {% set quoted = sql_literal(path) %}

    {% set found = run_query(
        "select file from glob(" ~ quoted ~ ") order by file"
    ) %}
    {% set files = found.columns[0].values() | list %}
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
    {% set quoted = sql_literal(file) %}
    {% if file.lower().endswith(".parquet") %}
        {% set schema = run_query(
            "select column_name from (describe select * from read_parquet("
            ~ quoted ~ "))"
        ) %}
        {% set header = schema.columns[0].values() | list %}
        {% set rows = run_query(
            "select count(*) from (select 1 from read_parquet(" ~ quoted
            ~ ") limit 1)"
        ) %}
        {% set has_data = rows.columns[0].values()[0] > 0 %}
    {% else %}
        {#- Read whole lines (no sniffing: a ragged row must not hide the
            header problem); the header is split on commas here. -#}
        {% set head = run_query(
            "select * from read_csv(" ~ quoted ~ ", header = false, "
            ~ "auto_detect = false, delim = chr(31), quote = '', escape = '', "
            ~ "columns = struct_pack(line := 'VARCHAR')) limit 2"
        ) %}
        {% if head.rows | length == 0 %}
            {{ exceptions.raise_compiler_error(
                "Raw file " ~ file ~ " is empty: expected a header with the "
                ~ "columns " ~ expected | join(", ") ~ " and one row per customer."
            ) }}
        {% endif %}
        {% set header = (head.rows[0][0] or "").split(",") %}
        {% set has_data = head.rows | length > 1 %}
    {% endif %}

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
