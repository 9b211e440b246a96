"""Statistical disclosure control of the agg_ marts: the attacker that checks a release, and publishing."""
