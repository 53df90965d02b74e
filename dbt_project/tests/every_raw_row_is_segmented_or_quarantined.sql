{#-
    Raw rows = segmented customers + quarantined rows: nothing is dropped
    silently.  int_customers_validated has one row per raw row, and both
    marts have primary keys (cust_id, source_row_number).  Returns a row
    when the counts disagree.
-#}
with

customers_validated as (

    select count(*) as n_rows from {{ ref("int_customers_validated") }}

),

customer_segments as (

    select count(*) as n_rows from {{ ref("customer_segments") }}

),

quarantined_customers as (

    select count(*) as n_rows from {{ ref("quarantined_customers") }}

)

select
    customers_validated.n_rows as raw_rows,
    customer_segments.n_rows as segmented,
    quarantined_customers.n_rows as quarantined
from customers_validated
cross join customer_segments
cross join quarantined_customers
where
    customers_validated.n_rows
    <> customer_segments.n_rows + quarantined_customers.n_rows
