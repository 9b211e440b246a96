-- The street crime metrics by borough and month (macros/borough_month_metrics.sql): what the dashboards' rate,
-- rolling and change charts read, under the row access of the street crimes they count.
{{ borough_month_metrics(
    counts="select date_trunc('month', crime_month) as metric_time__month, borough_code as borough,"
           ~ " sum(crime_count) as street_crime_count from " ~ ref('fct_street_crimes_monthly') ~ " group by 1, 2",
    count_name='street_crime_count',
) }}
