{#-
    Soft membership, long form: every valid customer's probability of
    belonging to every segment (softmax of -squared distance / temperature,
    see macro nearest_centroid).  Each customer's probabilities sum to 1.
-#}
with

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

probabilities as (

    unpivot (
        select
            cust_id,
            columns('^probability_[0-9]+$')
        from customers_assigned
    )
    on columns('^probability_[0-9]+$')
    into name segment_column value probability

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
