{{ published_aggregate('candidate_agg_crime_perpetrators_monthly') }}
