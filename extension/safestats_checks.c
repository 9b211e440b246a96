/*
 * safestats_checks: the ingest's cheapest row check, in C.
 *
 * plain_number_between(value, low, high) is true when `value` is written as a plain decimal (an optional
 * minus, digits, and optionally a point followed by digits; at most 15 characters, so the digits read as an
 * exact integer before one division) and lies inside (low, high), short of either end by a margin far
 * wider than any rounding. It is a fast path only: a value it refuses is judged by the exact test in SQL
 * (raw.extract_number against the band), so it must never accept a value the exact test refuses, and it
 * may refuse whatever it likes. src/safestats/sql/plain_numbers.sql holds a test in SQL, as sound, for a
 * server without this module.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "varatt.h"

PG_MODULE_MAGIC;

#define MAX_LENGTH 15

PG_FUNCTION_INFO_V1(plain_number_between);

Datum
plain_number_between(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	float8		low = PG_GETARG_FLOAT8(1);
	float8		high = PG_GETARG_FLOAT8(2);
	const char *s = VARDATA_ANY(value);
	int			length = VARSIZE_ANY_EXHDR(value);
	int			i = 0;
	int			whole = 0;
	int			fraction = 0;
	bool		point = false;
	double		digits = 0.0;
	double		scale = 1.0;
	double		x;
	double		margin;

	if (length < 1 || length > MAX_LENGTH)
		PG_RETURN_BOOL(false);
	if (s[0] == '-')
		i = 1;
	for (; i < length; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
		{
			digits = digits * 10.0 + (c - '0');
			if (point)
			{
				fraction++;
				scale *= 10.0;
			}
			else
				whole++;
		}
		else if (c == '.' && !point)
			point = true;
		else
			PG_RETURN_BOOL(false);
	}
	if (whole == 0 || (point && fraction == 0))
		PG_RETURN_BOOL(false);
	x = digits / scale;
	if (s[0] == '-')
		x = -x;
	margin = 1e-9 * (1.0 + fabs(low) + fabs(high));
	PG_RETURN_BOOL(x > low + margin && x < high - margin);
}
