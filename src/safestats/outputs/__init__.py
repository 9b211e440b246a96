"""The outputs partners receive, made by every refresh from what the warehouse holds: quarterly trend reports,
the borough core dataset for violence, hospital data-quality reports and feedback to suppliers. Each file is
written to the outputs area (`area.py`) with the audience that may receive it; the outputs page in Superset
lists and serves each organisation exactly the files its agreement gives it (`audience.py`)."""
