{#-
    One row per valid customer: its segment, how sure the assignment is
    (confidence, soft-membership probabilities, the two runners-up), why it
    is in this segment rather than the runner-up, whether it is an outlier,
    where it sits on the PCA map, and the CRM action ("customer with clusters
    and CRM").  Outliers keep their segment: they are flagged, not dropped.
-#}
-- After the promotion gate: a held-back challenger scores no customer.
-- depends_on: {{ ref("int_promotion_gate") }}
with

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

customers_projected as (

    select * from {{ ref("int_customers_projected") }}

),

customer_outliers as (

    select * from {{ ref("int_customer_outliers") }}

),

segment_anomaly_thresholds as (

    select * from {{ ref("int_segment_anomaly_thresholds") }}

),

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

final as (

    select
        customers_assigned.cust_id,
        segments_named.model_id,
        customers_assigned.segment_id,
        segments_named.segment_name,
        segments_named.persona_id,
        customers_assigned.distance_to_centroid,
        customers_assigned.confidence,
        customers_assigned.probability,
        customers_assigned.second_segment_id,
        runner_up.segment_name as second_segment_name,
        customers_assigned.second_distance,
        customers_assigned.second_probability,
        customers_assigned.third_segment_id,
        third.segment_name as third_segment_name,
        customers_assigned.third_distance,
        customers_assigned.third_probability,
        customers_assigned.reason_1_feature,
        customers_assigned.reason_1_direction,
        customers_assigned.reason_1_contribution,
        customers_assigned.reason_2_feature,
        customers_assigned.reason_2_direction,
        customers_assigned.reason_2_contribution,
        customers_assigned.reason_3_feature,
        customers_assigned.reason_3_direction,
        customers_assigned.reason_3_contribution,
        customer_outliers.is_dbscan_noise,
        segment_anomaly_thresholds.distance_threshold
            as anomaly_distance_threshold,
        customers_projected.pca_x,
        customers_projected.pca_y,
        segments_named.crm_objective,
        segments_named.crm_actions,
        segments_named.crm_channel,
        segments_named.crm_priority,
        segments_named.risk_note,
        -- valid rows' missing measures are exactly the imputed ones
        customers_validated.n_missing_measures as n_imputed_measures,
        customers_validated.is_frequency_capped,
        customers_validated.has_purchase_split_mismatch,
        customers_assigned.n_clipped_features,
        customers_validated.source_row_number,
        {% for feature in cc_feature_names() -%}
            customers_validated.{{ feature }},
        {% endfor -%}
        -- row by row, not a reasons CTE joined back on cust_id: that join
        -- of the customer table with itself cost a quarter of this model
        case
            when customers_assigned.reason_1_feature is not null
                then
                    segments_named.segment_name || ' rather than '
                    || runner_up.segment_name || ': '
                    || concat_ws(
                        ', ',
                        {% for n in [1, 2, 3] -%}
                            customers_assigned.reason_{{ n }}_direction || ' '
                            || replace(
                                customers_assigned.reason_{{ n }}_feature,
                                '_',
                                ' '
                            )
                            {%- if not loop.last %},{% endif %}
                        {% endfor %}
                    )
        end as why_this_segment,
        customers_assigned.distance_to_centroid
        > segment_anomaly_thresholds.distance_threshold as is_distance_anomaly
    from customers_assigned
    inner join segments_named
        on customers_assigned.segment_id = segments_named.segment_id
    left join segments_named as runner_up
        on customers_assigned.second_segment_id = runner_up.segment_id
    left join segments_named as third
        on customers_assigned.third_segment_id = third.segment_id
    inner join customers_projected
        on customers_assigned.cust_id = customers_projected.cust_id
    inner join customer_outliers
        on customers_assigned.cust_id = customer_outliers.cust_id
    inner join segment_anomaly_thresholds
        on customers_assigned.segment_id = segment_anomaly_thresholds.segment_id
    inner join customers_validated
        on
            customers_assigned.cust_id = customers_validated.cust_id
            and customers_validated.is_valid

)

select * from final
order by cust_id
