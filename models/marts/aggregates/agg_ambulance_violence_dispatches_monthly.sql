{{ published_aggregate('candidate_agg_ambulance_violence_dispatches_monthly') }}
