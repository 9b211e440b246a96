{{ published_aggregate('candidate_agg_crime_outcomes_monthly') }}
