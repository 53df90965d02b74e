{#-
    A segment's display name: its persona's name, with " (n)" for the n-th
    segment of the same persona (only when k exceeds the catalogue).
-#}
{% macro segment_name(persona_name, persona_occurrence) %}
    {{ persona_name }}
    || case
        when {{ persona_occurrence }} > 1
            then ' (' || {{ persona_occurrence }} || ')'
        else ''
    end
{% endmacro %}
