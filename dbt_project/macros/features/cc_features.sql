{#-
    The 17 behavioural measures of the raw file, in file order, and what kind
    of quantity each is.  Every model that loops over measures reads this list,
    so adding or renaming a measure happens here only.
      money:     amounts in currency units, >= 0, right-skewed (log1p-able)
      frequency: shares of the period, in [0, 1]
      share:     share of payments made in full, in [0, 1] (no tolerance)
      count:     transaction counts, whole numbers >= 0
      tenure:    months of history, whole numbers 1-12
-#}
{% macro cc_features() %}
    {{ return([
        {"name": "balance", "kind": "money"},
        {"name": "balance_frequency", "kind": "frequency"},
        {"name": "purchases", "kind": "money"},
        {"name": "oneoff_purchases", "kind": "money"},
        {"name": "installments_purchases", "kind": "money"},
        {"name": "cash_advance", "kind": "money"},
        {"name": "purchases_frequency", "kind": "frequency"},
        {"name": "oneoff_purchases_frequency", "kind": "frequency"},
        {"name": "purchases_installments_frequency", "kind": "frequency"},
        {"name": "cash_advance_frequency", "kind": "frequency"},
        {"name": "cash_advance_trx", "kind": "count"},
        {"name": "purchases_trx", "kind": "count"},
        {"name": "credit_limit", "kind": "money"},
        {"name": "payments", "kind": "money"},
        {"name": "minimum_payments", "kind": "money"},
        {"name": "prc_full_payment", "kind": "share"},
        {"name": "tenure", "kind": "tenure"},
    ]) }}
{% endmacro %}


{% macro cc_feature_names() %}
    {{ return(cc_features() | map(attribute="name") | list) }}
{% endmacro %}


{#-
    The documented reduced feature set: from every pair of measures with
    |pearson r| >= 0.8 on the real file, the less interpretable one is left
    out (purchases = one-off + instalment purchases, r 0.92 with one-off;
    purchases_installments_frequency, r 0.86 with purchases_frequency;
    cash_advance_trx, r 0.80 with cash_advance_frequency).
-#}
{% macro reduced_feature_names() %}
    {% set left_out = [
        "purchases",
        "purchases_installments_frequency",
        "cash_advance_trx",
    ] %}
    {{ return(cc_feature_names() | reject("in", left_out) | list) }}
{% endmacro %}


{#- The model's features, in file order, from var('features'). -#}
{% macro model_feature_names() %}
    {% set wanted = var("features") %}
    {% if wanted == "all" %}
        {{ return(cc_feature_names()) }}
    {% elif wanted == "reduced" %}
        {{ return(reduced_feature_names()) }}
    {% endif %}
    {% if wanted is string %}
        {% set wanted = wanted.split(",") | map("trim") | list %}
    {% endif %}
    {% set unknown = wanted | reject("in", cc_feature_names()) | list %}
    {% if unknown or not wanted %}
        {{ exceptions.raise_compiler_error(var_problem(
            "features",
            "'all', 'reduced' or a list of " ~ cc_feature_names() | join(", ")
            ~ " (unknown: " ~ unknown | join(", ") ~ ")"
        )) }}
    {% endif %}
    {{ return(cc_feature_names() | select("in", wanted) | list) }}
{% endmacro %}


{#- identity or log1p, per feature, from var('log1p_money'). -#}
{% macro feature_transform(feature_name) %}
    {% set kinds = {} %}
    {% for f in cc_features() %}
        {% do kinds.update({f.name: f.kind}) %}
    {% endfor %}
    {% if var_flag(var("log1p_money")) and kinds[feature_name] == "money" %}
        {{ return("log1p") }}
    {% endif %}
    {{ return("identity") }}
{% endmacro %}
