{#- Fail fast, naming file and columns, when the file is unusable. -#}
{% do assert_raw_file_is_readable(var("raw_path")) %}

with

customers as (

    select * from {{ source("cc_general", "customers") }}

),

numbered as (

    -- The scan keeps file order (preserve_insertion_order), so this is the
    -- data row's position in the file: quarantine reports cite it.
    select
        *,
        row_number() over () as source_row_number
    from customers

),

renamed as (

    select
        source_row_number,
        nullif(trim(cast(cust_id as varchar)), '') as cust_id,
        {% for feature in cc_feature_names() -%}
            nullif(trim(cast({{ feature }} as varchar)), '')
                as {{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from numbered

)

select * from renamed
