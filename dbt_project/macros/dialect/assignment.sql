{#-
    Constant lists and structs, and the long form of wide columns, as each
    engine writes them (default: DuckDB; spark__: Spark SQL), for the
    nearest-centroid rule (macros/scoring/nearest_centroid.sql) and the marts that
    read its wide result.  The DuckDB text is the one the macros replaced.
-#}

{#-
    A list of SQL expressions: DuckDB's [a, b] (with `element_type`,
    ([a, b]::<element_type>[])), Spark's array(a, b) (cast to
    array<element_type>).
-#}
{% macro sql_list(elements, element_type=none) %}
    {{ return(adapter.dispatch("sql_list", "cc_segmentation")(
        elements, element_type
    )) }}
{% endmacro %}

{% macro default__sql_list(elements, element_type) %}
    {% set list = "[" ~ (elements | join(", ")) ~ "]" %}
    {% if element_type is none %}
        {{ return(list) }}
    {% endif %}
    {{ return("(" ~ list ~ "::" ~ element_type ~ "[])") }}
{% endmacro %}

{% macro spark__sql_list(elements, element_type) %}
    {% set list = "array(" ~ (elements | join(", ")) ~ ")" %}
    {% if element_type is none %}
        {{ return(list) }}
    {% endif %}
    {{ return("cast(" ~ list ~ " as array<" ~ element_type ~ ">)") }}
{% endmacro %}


{#-
    Element `position` (1-based, NULL gives NULL) of a list: DuckDB's
    list[position], Spark's try_element_at (its arr[i] counts from 0); beyond
    the end both give NULL, as element_at does not with ANSI mode on.
-#}
{% macro list_element(list, position) %}
    {{ return(adapter.dispatch("list_element", "cc_segmentation")(
        list, position
    )) }}
{% endmacro %}

{% macro default__list_element(list, position) %}
    {{ return(list ~ "[" ~ position ~ "]") }}
{% endmacro %}

{% macro spark__list_element(list, position) %}
    {{ return("try_element_at(" ~ list ~ ", " ~ position ~ ")") }}
{% endmacro %}


{#-
    A struct of named SQL expressions, `fields` a list of (name, expression)
    pairs or a dict of them: DuckDB's {'name': expression, ...}, Spark's
    named_struct.  A field is read as struct.name in both.
-#}
{% macro sql_struct(fields) %}
    {{ return(adapter.dispatch("sql_struct", "cc_segmentation")(fields)) }}
{% endmacro %}

{% macro default__sql_struct(fields) %}
    {% set pairs = [] %}
    {% for name, expression in (fields.items() if fields is mapping else fields) %}
        {% do pairs.append("'" ~ name ~ "': " ~ expression) %}
    {% endfor %}
    {{ return("{" ~ (pairs | join(", ")) ~ "}") }}
{% endmacro %}

{% macro spark__sql_struct(fields) %}
    {% set pairs = [] %}
    {% for name, expression in (fields.items() if fields is mapping else fields) %}
        {% do pairs.append("'" ~ name ~ "', " ~ expression) %}
    {% endfor %}
    {{ return("named_struct(" ~ (pairs | join(", ")) ~ ")") }}
{% endmacro %}


{#-
    The probability_<segment id> columns of `customers_assigned` (macro
    nearest_centroid) in long form: cust_id, segment_column (the column's
    name) and probability, one row per customer and segment.  DuckDB finds
    the columns by name (COLUMNS); Spark's UNPIVOT needs them listed, one
    per fitted segment (fitted_segment_ids, as nearest_centroid made them).
-#}
{% macro probabilities_unpivoted(customers_assigned) %}
    {{ return(adapter.dispatch("probabilities_unpivoted", "cc_segmentation")(
        customers_assigned
    )) }}
{% endmacro %}

{% macro default__probabilities_unpivoted(customers_assigned) %}
    unpivot (
        select
            cust_id,
            columns('^probability_[0-9]+$')
        from {{ customers_assigned }}
    )
    on columns('^probability_[0-9]+$')
    into name segment_column value probability
{% endmacro %}

{% macro spark__probabilities_unpivoted(customers_assigned) %}
    {% set columns = [] %}
    {% for segment_id in fitted_segment_ids() %}
        {% do columns.append("probability_" ~ segment_id) %}
    {% endfor %}
    select * from (
        select
            cust_id,
            {{ columns | join(", ") }}
        from {{ customers_assigned }}
    )
    unpivot (probability for segment_column in ({{ columns | join(", ") }}))
{% endmacro %}


{#-
    Ends the select of a one-row pivot that every customer's row joins
    (nearest_centroid's centroid_row, int_customers_projected's pca_row).
    Nothing on DuckDB.  On Spark a constant GROUP BY: Spark 4.1's
    MergeSubplans turns a join with a non-grouping aggregate into one scalar
    subquery per column, which ran as one Spark job per centroid coordinate
    (68 at k = 4).  Grouped by a constant, the pivot is one row as before (no
    row if the table read is empty, where DuckDB gives one row of NULLs).
-#}
{% macro one_row_pivot_grouping() %}
    {{ return(adapter.dispatch("one_row_pivot_grouping", "cc_segmentation")()) }}
{% endmacro %}

{% macro default__one_row_pivot_grouping() %}
    {{ return("") }}
{% endmacro %}

{% macro spark__one_row_pivot_grouping() %}
    {{ return("group by 'one row'") }}
{% endmacro %}


{#-
    A WHERE clause for a CTE that several later steps read, so that it is
    computed once: nothing on DuckDB, which materializes such a CTE by
    itself.  Spark inlines a deterministic CTE into every step that reads it
    and computes it again for each; a condition that is always true but not
    deterministic keeps the CTE whole, computed once and shared.
-#}
{% macro computed_once() %}
    {{ return(adapter.dispatch("computed_once", "cc_segmentation")()) }}
{% endmacro %}

{% macro default__computed_once() %}
    {{ return("") }}
{% endmacro %}

{% macro spark__computed_once() %}
    {{ return("where rand() >= 0") }}
{% endmacro %}
