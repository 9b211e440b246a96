{{ published_aggregate('candidate_agg_crime_victims_monthly') }}
