"""The k-anonymity of the LAS record-level mart per month, as dbt reports it (disclosure.las_dispatch_group_sizes)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GroupSize:
    month: str
    smallest_group_size: int
    min_group_size: int
    records_by_level: tuple[int, int, int, int]   # LSOA, borough only, wide age band, age and sex withheld

    @property
    def ok(self) -> bool:
        return self.smallest_group_size >= self.min_group_size

    def text(self) -> str:
        return (f"LAS dispatches {self.month}: the smallest group of records sharing area, age band, sex and month"
                f" holds {self.smallest_group_size}, below the minimum {self.min_group_size}")

    def as_dict(self) -> dict:
        return asdict(self)


def group_sizes(conn) -> list[GroupSize]:
    if conn.execute("select to_regclass('disclosure.las_dispatch_group_sizes')").fetchone()[0] is None:
        return []
    return [GroupSize(month, k, minimum, (l0, l1, l2, l3)) for month, k, minimum, l0, l1, l2, l3 in conn.execute(
        "select to_char(incident_month, 'YYYY-MM'), smallest_group_size, min_group_size, lsoa_level_records,"
        " borough_level_records, wide_age_band_records, age_and_sex_withheld_records"
        " from disclosure.las_dispatch_group_sizes order by 1").fetchall()]
