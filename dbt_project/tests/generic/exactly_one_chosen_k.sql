{#- k_selection must flag exactly one k as chosen. -#}
{% test exactly_one_chosen_k(model) %}
    select count(*) as n_chosen
    from {{ model }}
    where is_chosen
    having count(*) <> 1
{% endtest %}
