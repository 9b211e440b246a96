{{ published_aggregate('candidate_agg_borough_violence_core_monthly') }}
