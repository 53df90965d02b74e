{#-
    A drift alarm: fails, at the severity its YAML gives it, on every row of
    the latest run in segment_drift (the one this build just added, by
    recorded_at) whose check `check_name` has status `level`.  Earlier
    runs' rows are history: an alarm of last month does not fail this
    month's build.  The latest run rather than this invocation's id, so
    that `dbt test` after a build checks that build's run too.
-#}
{% test drift_alarm(model, check_name, level) %}
    select
        run_id,
        check_name,
        subject,
        check_value,
        warn_threshold,
        error_threshold,
        status
    from {{ model }}
    where
        recorded_at = (select max(recorded_at) from {{ model }})
        and check_name = '{{ check_name }}'
        and status = '{{ level }}'
{% endtest %}
