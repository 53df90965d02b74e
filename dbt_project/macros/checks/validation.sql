{#-
    Row checks of int_customers_validated, per kind of measure (see
    cc_features).  quarantine_check gives a CASE that yields the reason a
    value makes its row unusable, or NULL; typed_measure the value's typed
    (and, for frequencies, capped) form.  They read the typed_<name> and
    raw_<name> columns of int_customers_validated.
-#}
{% macro quarantine_check(feature, tolerance) %}
    {%- set raw = "raw_" ~ feature.name -%}
    {%- set value = "typed_" ~ feature.name -%}
    case
        when {{ raw }} is not null and {{ value }} is null
            then '{{ feature.name }} is not a number: ' || {{ raw }}
        when not {{ is_finite(value) }}
            then '{{ feature.name }} is not finite: ' || {{ raw }}
        {% if feature.kind in ("money", "count") %}
        when {{ value }} < 0
            then '{{ feature.name }} is negative: ' || {{ raw }}
        {% endif %}
        {% if feature.kind == "money" %}
        when {{ value }} > {{ max_amount() }}
            then '{{ feature.name }} is above {{ max_amount() }}, more than '
            || 'any card amount: ' || {{ raw }}
        {% endif %}
        {% if feature.kind == "count" %}
        when {{ value }} <> floor({{ value }})
            then '{{ feature.name }} is not a whole number: ' || {{ raw }}
        when {{ value }} > {{ max_count() }}
            then '{{ feature.name }} is above {{ max_count() }}, the largest '
            || 'count stored: ' || {{ raw }}
        {% endif %}
        {% if feature.kind == "frequency" %}
        when {{ value }} < 0 or {{ value }} > {{ 1 + tolerance }}
            then '{{ feature.name }} is outside [0, 1] beyond the tolerance '
            || 'of {{ tolerance }}: ' || {{ raw }}
        {% endif %}
        {% if feature.kind == "share" %}
        when {{ value }} < 0 or {{ value }} > 1
            then '{{ feature.name }} is outside [0, 1]: ' || {{ raw }}
        {% endif %}
        {% if feature.kind == "tenure" %}
        when {{ value }} < 1 or {{ value }} > 12 or {{ value }} <> floor({{ value }})
            then '{{ feature.name }} is not a whole number of months in 1-12: '
            || {{ raw }}
        {% endif %}
    end
{%- endmacro %}

{#-
    Every reason a row cannot be segmented, joined with '; ', or NULL: the
    one list int_customers_validated and scoring_query both apply.  Reads
    cust_id, cust_id_occurrences (rows with that id), n_missing_measures and
    the raw_<name> and typed_<name> columns.
-#}
{% macro quarantine_reason() %}
    {%- set tolerance = var("frequency_tolerance") | float -%}
    {%- set max_missing = var("max_missing_measures") | int -%}
    nullif(concat_ws(
        '; ',
        case when cust_id is null then 'cust_id is missing' end,
        case
            when cust_id is not null and cust_id_occurrences > 1
                then
                    'cust_id ' || cust_id || ' appears '
                    || cust_id_occurrences || ' times'
        end,
        {% for feature in cc_features() -%}
            {{ quarantine_check(feature, tolerance) }},
        {% endfor -%}
        case
            when n_missing_measures > {{ max_missing }}
                then
                    n_missing_measures || ' of 17 measures are missing '
                    || '(more than {{ max_missing }} cannot be imputed)'
        end
    ), '')
{%- endmacro %}



{#-
    The largest amount kept: no card account holds 1e15 in any currency,
    and beyond about 1e100 the cubes in feature_distributions' skewness
    overflow.  Larger values are quarantined, not carried.
-#}
{% macro max_amount() %}1e15{% endmacro %}


{#- Counts are stored as INTEGER: larger ones are quarantined, not cast to
    NULL (which imputation would then fill without a flag). -#}
{% macro max_count() %}2147483647{% endmacro %}


{#-
    The fewest valid customers a file may have: DBSCAN's neighbourhoods need
    more than 2 x 17 customers, the k scan more than k_max, and a segment
    of a handful of customers is not a campaign.  Fewer stop the build.
-#}
{% macro min_customers() %}100{% endmacro %}


{% macro typed_measure(feature) %}
    {%- set value = "typed_" ~ feature.name -%}
    {%- if feature.kind == "frequency" -%}
        {#- not least(): it would turn a missing value into 1 -#}
        case when {{ value }} > 1 then 1.0 else {{ value }} end
    {%- elif feature.kind in ("count", "tenure") -%}
        try_cast({{ value }} as integer)
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}
