{#-
    Functions whose name or behaviour differs between the engines, one macro
    each, dispatched on the adapter (default: DuckDB; spark__: Spark SQL).
    The models call these and stay one definition for both engines.
-#}

{#-
    A 64-bit hash of the expressions, for fixed-seed sampling and input
    fingerprints.  DuckDB's hash and Spark's xxhash64 are different
    functions, so a sample or fingerprint is stable within an engine, not
    across engines (files up to the sample sizes are used whole on both).
    Spark's value is widened to decimal so that a sum of many never wraps.
-#}
{% macro row_hash(expressions) %}
    {{ return(adapter.dispatch("row_hash", "cc_segmentation")(expressions)) }}
{% endmacro %}

{% macro default__row_hash(expressions) %}
    hash({{ expressions | join(", ") }})
{% endmacro %}

{% macro spark__row_hash(expressions) %}
    cast(xxhash64({{ expressions | join(", ") }}) as decimal(20, 0))
{% endmacro %}


{#- Whether a double is a finite number (not NaN, not infinite); NULL stays NULL. -#}
{% macro is_finite(value) %}
    {{ return(adapter.dispatch("is_finite", "cc_segmentation")(value)) }}
{% endmacro %}

{% macro default__is_finite(value) %}
    isfinite({{ value }})
{% endmacro %}

{% macro spark__is_finite(value) %}
    (not (isnan({{ value }}) or abs({{ value }}) = double('infinity')))
{% endmacro %}


{#-
    The function that fails a query with its text argument when evaluated:
    how a model stops the build with its own words
    (`{{ raise_error_function() }}('message')`).
-#}
{% macro raise_error_function() %}
    {{ return(adapter.dispatch("raise_error_function", "cc_segmentation")()) }}
{% endmacro %}

{% macro default__raise_error_function() %}
    {{- "error" -}}
{% endmacro %}

{% macro spark__raise_error_function() %}
    {{- "raise_error" -}}
{% endmacro %}


{#- The texts of a group joined by `separator`, in the order of `order_by`. -#}
{% macro ordered_string_agg(value, separator, order_by) %}
    {{ return(adapter.dispatch("ordered_string_agg", "cc_segmentation")(
        value, separator, order_by
    )) }}
{% endmacro %}

{% macro default__ordered_string_agg(value, separator, order_by) %}
    string_agg({{ value }}, {{ separator }} order by {{ order_by }})
{% endmacro %}

{% macro spark__ordered_string_agg(value, separator, order_by) %}
    listagg({{ value }}, {{ separator }}) within group (order by {{ order_by }})
{% endmacro %}


{#- The SHA-256 of a text, as 64 lower-case hex digits. -#}
{% macro sha256_hex(text) %}
    {{ return(adapter.dispatch("sha256_hex", "cc_segmentation")(text)) }}
{% endmacro %}

{% macro default__sha256_hex(text) %}
    sha256({{ text }})
{% endmacro %}

{% macro spark__sha256_hex(text) %}
    sha2({{ text }}, 256)
{% endmacro %}


{#-
    A select-list item that turns one row into len(rows) rows: each of
    `rows` is a dict of column name -> SQL expression (every dict with the
    same names, in the same order), and the columns come out by those names.
-#}
{% macro unnest_rows(rows) %}
    {% set structs = [] %}
    {% for row in rows %}
        {% do structs.append(sql_struct(row)) %}
    {% endfor %}
    {{ return(unnest_structs(sql_list(structs))) }}
{% endmacro %}


{#-
    A query with one row per (row of `relation`, column of `columns`) that
    is not NULL: the column's name in `name_column`, its value in
    `value_column`.  Both engines leave NULL values out by default.
-#}
{% macro unpivot_columns(relation, columns, name_column, value_column) %}
    {{ return(adapter.dispatch("unpivot_columns", "cc_segmentation")(
        relation, columns, name_column, value_column
    )) }}
{% endmacro %}

{% macro default__unpivot_columns(relation, columns, name_column, value_column) %}
    unpivot (
        select {{ columns | join(", ") }}
        from {{ relation }}
    )
    on {{ columns | join(", ") }}
    into name {{ name_column }} value {{ value_column }}
{% endmacro %}

{% macro spark__unpivot_columns(relation, columns, name_column, value_column) %}
    select {{ name_column }}, {{ value_column }}
    from (
        select {{ columns | join(", ") }}
        from {{ relation }}
    )
    unpivot (
        {{ value_column }} for {{ name_column }} in ({{ columns | join(", ") }})
    )
{% endmacro %}
