{#-
    Soft membership, long form: every valid customer's probability of
    belonging to every segment (softmax of -squared distance / temperature,
    see macro nearest_centroid).  Each customer's probabilities sum to 1.
-#}
-- Spark lists the probability columns, one per fitted segment id
-- depends_on: {{ ref("int_segment_centroids") }}
with

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

probabilities as (

    {{ probabilities_unpivoted("customers_assigned") }}

),

final as (

    select
        cust_id,
        probability,
        cast(replace(segment_column, 'probability_', '') as bigint)
            as segment_id
    from probabilities

)

select * from final
