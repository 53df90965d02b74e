{#-
    The one fixed-seed sample of standardized customers that every Python
    step works on, so that no step ever pulls the whole table into Python:
    the k scan, the KMeans fit, DBSCAN and the silhouette each take the rows
    with sample_rank <= their own size (the samples are nested).

    Customers are ranked by a hash of their id and var('random_state'): the
    sample depends on neither file order nor thread count, and a customer
    keeps its rank from build to build.  Up to the largest sample size every
    valid customer is in it, so small files (the real one among them) are
    fitted on all rows.  Readers sort the rows they take by cust_id.
-#}
{% set sample_rows = [
    var("k_selection_max_rows"),
    var("fit_max_rows"),
    var("dbscan_max_rows"),
    var("silhouette_max_rows"),
] | map("int") | max %}

with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

ranked as (

    select
        *,
        {{ row_hash(["cust_id", var("random_state") | int]) }} as sample_hash
    from customers_standardized
    order by sample_hash, cust_id
    limit {{ sample_rows }}

),

final as (

    select
        cust_id,
        source_row_number,
        {% for feature in model_feature_names() %}
            {{ feature }}_z,
        {% endfor %}
        -- bigint on both engines (Spark's row_number is an int)
        cast(row_number() over (order by sample_hash, cust_id) as bigint)
            as sample_rank
    from ranked

)

select * from final
