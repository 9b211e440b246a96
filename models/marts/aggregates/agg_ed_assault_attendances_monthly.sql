{{ published_aggregate('candidate_agg_ed_assault_attendances_monthly') }}
