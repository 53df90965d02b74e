{#-
    The DBSCAN outlier flag of every valid customer.  DBSCAN itself labels
    the customers of its fixed-seed sample (int_dbscan_sample_labels, scope
    'exact'), which is every customer up to var('dbscan_max_rows'); every
    other customer takes the label of a core sample within eps, or is noise
    without one, as DBSCAN labels a new point (int_dbscan_rule_labels, scope
    'rule').
-#}
with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

dbscan_sample_labels as (

    select * from {{ ref("int_dbscan_sample_labels") }}

),

dbscan_rule_labels as (

    select * from {{ ref("int_dbscan_rule_labels") }}

),

dbscan_settings as (

    select distinct
        dbscan_eps,
        dbscan_min_samples
    from dbscan_sample_labels

),

customer_labels as (

    select
        customers_standardized.cust_id,
        coalesce(
            dbscan_sample_labels.dbscan_label, dbscan_rule_labels.dbscan_label
        ) as dbscan_label,
        case
            when dbscan_sample_labels.cust_id is not null then 'exact'
            when dbscan_rule_labels.source_row_number is not null then 'rule'
        end as dbscan_scope
    from customers_standardized
    left join dbscan_sample_labels
        on customers_standardized.cust_id = dbscan_sample_labels.cust_id
    left join dbscan_rule_labels
        on
            customers_standardized.source_row_number
            = dbscan_rule_labels.source_row_number

),

final as (

    select
        customer_labels.cust_id,
        customer_labels.dbscan_label,
        dbscan_settings.dbscan_eps,
        dbscan_settings.dbscan_min_samples,
        customer_labels.dbscan_scope,
        customer_labels.dbscan_label = -1 as is_dbscan_noise
    from customer_labels
    cross join dbscan_settings

)

select * from final
