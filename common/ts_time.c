#include "ts_time.h"

#include <inttypes.h>
#include <stdio.h>

#define TS_DAY_MS 86400000LL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, exact for every int64 year we can meet). */
static int64_t ts_time_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void ts_time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int ts_time_days_in_month(int64_t y, int m)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return mdays[m - 1] + (m == 2 && leap);
}

/* Floor division of ms into days and the milliseconds of that day. */
static void ts_time_split(int64_t ms, int64_t *days, int64_t *rem)
{
    *days = ms / TS_DAY_MS;
    *rem = ms % TS_DAY_MS;
    if (*rem < 0) {
        *rem += TS_DAY_MS;
        (*days)--;
    }
}

size_t ts_time_format_iso(int64_t ms, char *buf, size_t size)
{
    int64_t days, rem, y;
    int mo, d, n;

    ts_time_split(ms, &days, &rem);
    ts_time_civil_from_days(days, &y, &mo, &d);
    n = snprintf(buf, size,
                 y >= 0 && y <= 9999 ? "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ"
                                     : "%+05" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 y, mo, d, (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000));
    return n < 0 ? 0 : (size_t)n;
}

/* The text being parsed: p[i..n). */
typedef struct ts_time_in {
    const char *p;
    size_t n, i;
} ts_time_in;

static int ts_time_peek(const ts_time_in *in)
{
    return in->i < in->n ? (unsigned char)in->p[in->i] : -1;
}

/* Exactly `count` digits; advances. */
static int ts_time_digits(ts_time_in *in, int count, int *v)
{
    *v = 0;
    for (int k = 0; k < count; k++, in->i++) {
        int c = ts_time_peek(in);
        if (c < '0' || c > '9')
            return -1;
        *v = *v * 10 + (c - '0');
    }
    return 0;
}

/* `c` next; advances. */
static int ts_time_expect(ts_time_in *in, int c)
{
    if (ts_time_peek(in) != c)
        return -1;
    in->i++;
    return 0;
}

/* [('.' | ',') 1-9 digits] as milliseconds (truncated). */
static int ts_time_fraction(ts_time_in *in, int *frac)
{
    int c = ts_time_peek(in), nd = 0;

    *frac = 0;
    if (c != '.' && c != ',')
        return 0;
    in->i++;
    while ((c = ts_time_peek(in)) >= '0' && c <= '9') {
        if (nd < 3)
            *frac = *frac * 10 + (c - '0');
        nd++;
        in->i++;
    }
    if (nd == 0 || nd > 9)
        return -1;
    for (; nd < 3; nd++)
        *frac *= 10;
    return 0;
}

/* [zone] as minutes east of UTC. */
static int ts_time_zone(ts_time_in *in, int *off)
{
    int c = ts_time_peek(in), sign, oh, om = 0;

    *off = 0;
    if (c == 'Z' || c == 'z') {
        in->i++;
        return 0;
    }
    if (c != '+' && c != '-')
        return 0;
    sign = c == '-' ? -1 : 1;
    in->i++;
    if (ts_time_digits(in, 2, &oh))
        return -1;
    if (ts_time_peek(in) == ':') {
        in->i++;
        if (ts_time_digits(in, 2, &om))
            return -1;
    } else if (ts_time_peek(in) >= '0' && ts_time_peek(in) <= '9') {
        if (ts_time_digits(in, 2, &om))
            return -1;
    }
    if (oh > 23 || om > 59)
        return -1;
    *off = sign * (oh * 60 + om);
    return 0;
}

ts_err ts_time_parse_iso(const char *p, size_t n, ts_time_form form, int64_t *ms)
{
    ts_time_in in = {p, n, 0};
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0, c;
    int64_t t;

    if (ts_time_digits(&in, 4, &y) || ts_time_expect(&in, '-') || ts_time_digits(&in, 2, &mo) ||
        ts_time_expect(&in, '-') || ts_time_digits(&in, 2, &d))
        return TS_ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > ts_time_days_in_month(y, mo))
        return TS_ERR_INVALID;
    c = ts_time_peek(&in);
    if (c == 'T' || c == 't' || c == ' ') {
        in.i++;
        if (ts_time_digits(&in, 2, &h) || ts_time_expect(&in, ':') || ts_time_digits(&in, 2, &mi))
            return TS_ERR_INVALID;
        if (ts_time_peek(&in) == ':') {
            in.i++;
            if (ts_time_digits(&in, 2, &sec) || ts_time_fraction(&in, &frac))
                return TS_ERR_INVALID;
        } else if (form != TS_TIME_PARTIAL) {
            return TS_ERR_INVALID;
        }
        if (h > 23 || mi > 59 || sec > 60 || ts_time_zone(&in, &off))
            return TS_ERR_INVALID;
    } else if (form != TS_TIME_PARTIAL) {
        return TS_ERR_INVALID;
    }
    if (in.i != n)
        return TS_ERR_INVALID;
    t = ts_time_days_from_civil(y, mo, d) * TS_DAY_MS + (int64_t)h * 3600000 + (int64_t)mi * 60000 -
        (int64_t)off * 60000;
    if (sec == 60) {
        /* a leap second: only 23:59:60 UTC on the last day of a month,
         * read as that day's last millisecond */
        int64_t days, rem, yy;
        int mm, dd;
        ts_time_split(t, &days, &rem);
        ts_time_civil_from_days(days, &yy, &mm, &dd);
        if (rem != TS_DAY_MS - 60000 || dd != ts_time_days_in_month(yy, mm))
            return TS_ERR_INVALID;
        *ms = t + 59999;
        return TS_OK;
    }
    *ms = t + (int64_t)sec * 1000 + frac;
    return TS_OK;
}
