{#-
    Types every raw value and says, per row, why it cannot be segmented.
    Nothing is dropped here: quarantined_customers takes the rows with a
    quarantine_reason, the segmentation takes the rest.  typed, checked and
    reasons are steps of the scoring chain (scoring_chain.sql), which
    scoring_query runs on uploaded customers too.
-#}
{% set typed_frequencies = [] %}
{% for feature in cc_features() if feature.kind == "frequency" %}
    {% do typed_frequencies.append("typed_" ~ feature.name) %}
{% endfor %}

with

customers as (

    select * from {{ ref("stg_cc_general__customers") }}

),

typed as (

    {{ chain_typed("customers", ["source_row_number"]) }}

),

checked as (

    {{ chain_missing_counted("typed") }}

),

reasons as (

    {{ chain_reasoned("checked") }}

),

repaired as (

    -- Frequencies up to the tolerance above 1 are a known quirk of the
    -- source (CASH_ADVANCE_FREQUENCY reaches 1.5 in 8 real rows): they are
    -- capped at 1 and flagged, not quarantined.  Purchase-split mismatches
    -- are kept as reported and flagged: purchases is its own measure and the
    -- source does not say which of the three amounts is wrong.
    select
        *,
        coalesce(
            greatest({{ typed_frequencies | join(", ") }}) > 1,
            false
        ) as is_frequency_capped,
        coalesce(
            abs(
                typed_purchases - typed_oneoff_purchases
                - typed_installments_purchases
            ) > 0.01,
            false
        ) as has_purchase_split_mismatch
    from reasons

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
        {{ chain_measure_columns() }},
        -- the text as read, for quarantined rows only: a valid row's typed
        -- values say the same, and 17 text columns for millions of valid
        -- customers would be most of the table
        {% for feature in cc_feature_names() -%}
            case
                when quarantine_reason is not null then raw_{{ feature }}
            end as raw_{{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from repaired

)

select * from final
