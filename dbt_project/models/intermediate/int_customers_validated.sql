{#-
    Types every raw value and says, per row, why it cannot be segmented.
    Nothing is dropped here: quarantined_customers takes the rows with a
    quarantine_reason, the segmentation takes the rest.
-#}
{% set tolerance = var("frequency_tolerance") | float %}
{% set max_missing = var("max_missing_measures") | int %}

with

customers as (

    select * from {{ ref("stg_cc_general__customers") }}

),

typed as (

    select
        source_row_number,
        cust_id,
        count(*) over (partition by cust_id) as cust_id_occurrences,
        {% for feature in cc_feature_names() %}
        {{ feature }} as raw_{{ feature }},
        try_cast({{ feature }} as double) as typed_{{ feature }},
        {% endfor %}
    from customers

),

checked as (

    select
        *,
        (
            {% for feature in cc_feature_names() %}
            (raw_{{ feature }} is null)::integer
            {{- " +" if not loop.last }}
            {% endfor %}
        ) as n_missing_measures,
        nullif(concat_ws(
            '; ',
            case when cust_id is null then 'cust_id is missing' end,
            case
                when cust_id is not null and cust_id_occurrences > 1
                    then 'cust_id ' || cust_id || ' appears '
                    || cust_id_occurrences || ' times'
            end,
            {% for feature in cc_features() %}
            {% set raw = "raw_" ~ feature.name %}
            {% set value = "typed_" ~ feature.name %}
            case
                when {{ raw }} is not null and {{ value }} is null
                    then '{{ feature.name }} is not a number: '
                    || {{ raw }}
                when not isfinite({{ value }})
                    then '{{ feature.name }} is not finite: ' || {{ raw }}
                {% if feature.kind in ("money", "count") %}
                when {{ value }} < 0
                    then '{{ feature.name }} is negative: ' || {{ raw }}
                {% endif %}
                {% if feature.kind == "count" %}
                when {{ value }} <> floor({{ value }})
                    then '{{ feature.name }} is not a whole number: '
                    || {{ raw }}
                {% endif %}
                {% if feature.kind == "frequency" %}
                when {{ value }} < 0 or {{ value }} > {{ 1 + tolerance }}
                    then '{{ feature.name }} is outside [0, 1] beyond the '
                    || 'tolerance of {{ tolerance }}: ' || {{ raw }}
                {% endif %}
                {% if feature.kind == "share" %}
                when {{ value }} < 0 or {{ value }} > 1
                    then '{{ feature.name }} is outside [0, 1]: ' || {{ raw }}
                {% endif %}
                {% if feature.kind == "tenure" %}
                when
                    {{ value }} < 1 or {{ value }} > 12
                    or {{ value }} <> floor({{ value }})
                    then '{{ feature.name }} is not a whole number of '
                    || 'months in 1-12: ' || {{ raw }}
                {% endif %}
            end,
            {% endfor %}
            case
                when n_missing_measures > {{ max_missing }}
                    then n_missing_measures || ' of 17 measures are missing '
                    || '(more than {{ max_missing }} cannot be imputed)'
            end
        ), '') as quarantine_reason
    from typed

),

repaired as (

    -- Frequencies up to the tolerance above 1 are a known quirk of the
    -- source (CASH_ADVANCE_FREQUENCY reaches 1.5 in 8 real rows): they are
    -- capped at 1 and flagged, not quarantined.
    select
        *,
        {% for feature in cc_features() if feature.kind == "frequency" %}
        coalesce(typed_{{ feature.name }} > 1, false)
        {{- " or" if not loop.last else " as is_frequency_capped," }}
        {% endfor %}
        -- Kept as reported, flagged: purchases is its own measure and the
        -- source does not say which of the three amounts is wrong.
        coalesce(
            abs(typed_purchases - typed_oneoff_purchases
                - typed_installments_purchases) > 0.01,
            false
        ) as has_purchase_split_mismatch
    from checked

),

final as (

    select
        source_row_number,
        cust_id,
        quarantine_reason,
        quarantine_reason is null as is_valid,
        n_missing_measures,
        is_frequency_capped,
        has_purchase_split_mismatch,
        {% for feature in cc_features() %}
        {% if feature.kind == "frequency" %}
        -- not least(): it would turn a missing value into 1
        case
            when typed_{{ feature.name }} > 1 then 1.0
            else typed_{{ feature.name }}
        end as {{ feature.name }},
        {% elif feature.kind in ("count", "tenure") %}
        try_cast(typed_{{ feature.name }} as integer) as {{ feature.name }},
        {% else %}
        typed_{{ feature.name }} as {{ feature.name }},
        {% endif %}
        {% endfor %}
        {% for feature in cc_feature_names() %}
        raw_{{ feature }}{{ "," if not loop.last }}
        {% endfor %}
    from repaired

)

select * from final
