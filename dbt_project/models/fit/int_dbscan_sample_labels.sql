{#-
    DBSCAN's labels of its fixed-seed sample for the current input and
    settings: the rows of int_dbscan_sample_label_cache under the current
    dbscan_key (int_fit_input_fingerprint).
-#}
with

dbscan_sample_label_cache as (

    select * from {{ ref("int_dbscan_sample_label_cache") }}

),

fit_input_fingerprint as (

    select * from {{ ref("int_fit_input_fingerprint") }}

),

final as (

    select
        dbscan_sample_label_cache.cust_id,
        dbscan_sample_label_cache.dbscan_label,
        dbscan_sample_label_cache.is_dbscan_core,
        dbscan_sample_label_cache.dbscan_eps,
        dbscan_sample_label_cache.dbscan_min_samples
    from dbscan_sample_label_cache
    inner join fit_input_fingerprint
        on
            dbscan_sample_label_cache.dbscan_key
            = fit_input_fingerprint.dbscan_key

)

select * from final
