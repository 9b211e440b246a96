-- Victims of MPS recorded crimes placed in a London borough, with the crime's incident category and the
-- coarser values generalisation can release (category group, wide age band). Not released as such: the
-- disclosure-controlled aggregate counts these, the record-level mart their generalisation.
{{ mps_person_categorised('victim') }}
