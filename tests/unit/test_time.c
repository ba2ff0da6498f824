#include "ts_time.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "ts_test.h"

#define T0            1795712400000LL /* 2026-11-26T17:00:00Z */
#define NEW_YEAR_2017 1483228800000LL /* 2017-01-01T00:00:00Z, after a leap second */

#define FULL TS_TIME_FULL
#define PART TS_TIME_PARTIAL

struct parse_case {
    const char *text;
    ts_time_form form;
    int ok;
    int64_t ms;
};

static struct parse_case parse_cases[] = {
    /* the forms X and Mastodon write */
    {"2026-11-26T17:00:00.000Z", FULL, 1, T0},
    {"2026-11-26T17:00:00Z", FULL, 1, T0},
    {"2026-11-26T17:00:00.123456Z", FULL, 1, T0 + 123},
    {"2026-11-26T17:00:00.123456789Z", FULL, 1, T0 + 123},
    {"2026-11-26T17:00:00,5Z", FULL, 1, T0 + 500},
    {"2026-11-26t17:00:00z", FULL, 1, T0},
    {"2026-11-26 17:00:00Z", FULL, 1, T0},
    {"2026-11-26T17:00:00", FULL, 1, T0},
    {"2026-11-26T18:00:00+01:00", FULL, 1, T0},
    {"2026-11-26T18:30:00+0130", FULL, 1, T0},
    {"2026-11-26T12:00:00-05", FULL, 1, T0},
    {"2026-11-27T16:59:00+23:59", FULL, 1, T0},
    {"1970-01-01T00:00:00Z", FULL, 1, 0},
    {"1969-12-31T23:59:59.999Z", FULL, 1, -1},
    {"0000-01-01T00:00:00Z", FULL, 1, -62167219200000LL},
    {"9999-12-31T23:59:59.999Z", FULL, 1, 253402300799999LL},
    /* a date alone or without seconds: only where a person types it */
    {"2026-11-26", PART, 1, T0 - 17 * 3600000LL},
    {"2026-11-26T17:00", PART, 1, T0},
    {"2026-11-26T18:00+01:00", PART, 1, T0},
    {"2026-11-26T17:00:00.250Z", PART, 1, T0 + 250},
    {"2026-11-26", FULL, 0, 0},
    {"2026-11-26T17:00Z", FULL, 0, 0},
    {"2026-11-26Z", PART, 0, 0},
    /* days per month */
    {"2024-02-29T00:00:00Z", FULL, 1, 1709164800000LL},
    {"2000-02-29T00:00:00Z", FULL, 1, 951782400000LL},
    {"2025-02-29T00:00:00Z", FULL, 0, 0},
    {"1900-02-29T00:00:00Z", FULL, 0, 0},
    {"2026-04-31T00:00:00Z", FULL, 0, 0},
    {"2026-11-31", PART, 0, 0},
    {"2026-12-32T00:00:00Z", FULL, 0, 0},
    {"2026-00-10T00:00:00Z", FULL, 0, 0},
    {"2026-13-01T00:00:00Z", FULL, 0, 0},
    {"2026-11-00T00:00:00Z", FULL, 0, 0},
    /* leap seconds: the last second of a month in UTC, as its last ms */
    {"2016-12-31T23:59:60Z", FULL, 1, NEW_YEAR_2017 - 1},
    {"2016-12-31T23:59:60.5Z", FULL, 1, NEW_YEAR_2017 - 1},
    {"2016-12-31T18:59:60-05:00", FULL, 1, NEW_YEAR_2017 - 1},
    {"2017-01-01T00:59:60+01:00", FULL, 1, NEW_YEAR_2017 - 1},
    {"2015-06-30T23:59:60Z", FULL, 1, 1435708800000LL - 1},
    {"2024-02-29T23:59:60Z", FULL, 1, 1709251200000LL - 1},
    {"2016-12-31T23:59:60+01:00", FULL, 0, 0}, /* 22:59:60 UTC */
    {"2016-12-30T23:59:60Z", FULL, 0, 0},      /* not a month's last day */
    {"2023-02-28T23:58:60Z", FULL, 0, 0},
    {"2026-11-26T17:00:60Z", FULL, 0, 0},
    {"2016-12-31T23:59:61Z", FULL, 0, 0},
    /* times and zones out of range */
    {"2026-11-26T24:00:00Z", FULL, 0, 0},
    {"2026-11-26T17:60:00Z", FULL, 0, 0},
    {"2026-11-26T17:00:00+24:00", FULL, 0, 0},
    {"2026-11-26T17:00:00+01:60", FULL, 0, 0},
    /* not the grammar */
    {"", FULL, 0, 0},
    {"", PART, 0, 0},
    {"2026-11-26T17:00:00.Z", FULL, 0, 0},
    {"2026-11-26T17:00:00.1234567890Z", FULL, 0, 0},
    {"2026-11-26T17:00:00+1", FULL, 0, 0},
    {"2026-11-26T17:00:00+01:", FULL, 0, 0},
    {"2026-11-26T17:00:00+013", FULL, 0, 0},
    {"2026-11-26T17:00:00Zjunk", FULL, 0, 0},
    {"2026-11-26T17:00:00 ", FULL, 0, 0},
    {"2026-11-26T17Z", PART, 0, 0},
    {"2026-11-26T17:00.5Z", PART, 0, 0},
    {"2026-1-26T17:00:00Z", FULL, 0, 0},
    {"26-11-2026T17:00:00Z", FULL, 0, 0},
    {"+2026-11-26T17:00:00Z", FULL, 0, 0},
    {"Thu Nov 26 17:00:00 +0000 2026", FULL, 0, 0},
    {"1795712400000", FULL, 0, 0},
};

ParameterizedTestParameters(time, parse)
{
    return ts_test_indices(sizeof(parse_cases) / sizeof(parse_cases[0]));
}

ParameterizedTest(size_t *i, time, parse)
{
    const struct parse_case *c = &parse_cases[*i];
    const char *form = c->form == FULL ? "full" : "partial";
    int64_t ms = 42;
    ts_err err = ts_time_parse_iso(c->text, strlen(c->text), c->form, &ms);

    if (c->ok) {
        cr_assert_eq(err, TS_OK, "\"%s\" (%s) should parse", c->text, form);
        cr_expect_eq(ms, c->ms, "\"%s\": %lld, expected %lld", c->text, (long long)ms,
                     (long long)c->ms);
    } else {
        cr_expect_eq(err, TS_ERR_INVALID, "\"%s\" (%s) should not parse (got %lld)", c->text, form,
                     (long long)ms);
        cr_expect_eq(ms, 42, "\"%s\": *ms written on failure", c->text);
    }
}

Test(time, parse_reads_only_n_bytes)
{
    static const char text[] = "2026-11-26T17:00:00Zjunk";
    char exact[20];
    int64_t ms = 0;

    /* the length bounds the text; nothing after it is read */
    memcpy(exact, text, sizeof(exact));
    cr_expect_eq(ts_time_parse_iso(exact, sizeof(exact), FULL, &ms), TS_OK);
    cr_expect_eq(ms, T0);
    cr_expect_eq(ts_time_parse_iso(text, 19, FULL, &ms), TS_OK); /* no zone: UTC */
    cr_expect_eq(ts_time_parse_iso(text, 18, FULL, &ms), TS_ERR_INVALID);
    cr_expect_eq(ts_time_parse_iso("2026-11-26T17:00:00Z", 21, FULL, &ms), TS_ERR_INVALID,
                 "a NUL inside the length is not part of a time");
    cr_expect_eq(ts_time_parse_iso(text, 0, PART, &ms), TS_ERR_INVALID);
}

Test(time, month_lengths)
{
    static const int lengths[2][12] = {{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
                                       {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}};
    static const struct {
        int year, leap;
    } years[] = {{2024, 1}, {2025, 0}, {2000, 1}, {1900, 0}, {2100, 0}, {2400, 1}, {0, 1}};

    for (size_t k = 0; k < sizeof(years) / sizeof(years[0]); k++) {
        for (int m = 1; m <= 12; m++) {
            int last = lengths[years[k].leap][m - 1];
            char text[32];
            int64_t ms, next;
            snprintf(text, sizeof(text), "%04d-%02d-%02d", years[k].year, m, last);
            cr_expect_eq(ts_time_parse_iso(text, strlen(text), PART, &ms), TS_OK, "%s", text);
            snprintf(text, sizeof(text), "%04d-%02d-%02d", years[k].year, m, last + 1);
            cr_expect_eq(ts_time_parse_iso(text, strlen(text), PART, &next), TS_ERR_INVALID, "%s",
                         text);
            /* the day after the last is the first of the next month */
            snprintf(text, sizeof(text), "%04d-%02d-01",
                     m == 12 ? years[k].year + 1 : years[k].year, m == 12 ? 1 : m + 1);
            cr_assert_eq(ts_time_parse_iso(text, strlen(text), PART, &next), TS_OK, "%s", text);
            cr_expect_eq(next - ms, 86400000LL, "%s", text);
        }
    }
}

Test(time, format)
{
    static const struct {
        int64_t ms;
        const char *text;
    } c[] = {
        {T0, "2026-11-26T17:00:00.000Z"},
        {T0 + 45999, "2026-11-26T17:00:45.999Z"},
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {951782400000LL, "2000-02-29T00:00:00.000Z"},
        {NEW_YEAR_2017 - 1, "2016-12-31T23:59:59.999Z"},
        {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {253402300800000LL, "+10000-01-01T00:00:00.000Z"},
        {-62167219200001LL, "-0001-12-31T23:59:59.999Z"},
        {INT64_MAX, "+292278994-08-17T07:12:55.807Z"},
        {INT64_MIN, "-292275055-05-16T16:47:04.192Z"},
    };
    char buf[TS_TIME_ISO_SIZE], small[8];

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        size_t n = ts_time_format_iso(c[i].ms, buf, sizeof(buf));
        cr_expect_str_eq(buf, c[i].text);
        cr_expect_eq(n, strlen(c[i].text));
    }
    /* cut to the buffer, the full length returned */
    cr_expect_eq(ts_time_format_iso(T0, small, sizeof(small)), 24u);
    cr_expect_str_eq(small, "2026-11");
}

Test(time, format_then_parse_is_identity)
{
    char buf[TS_TIME_ISO_SIZE];

    for (int64_t ms = -400LL * 366 * 86400000; ms < 400LL * 366 * 86400000;
         ms += 86400000LL * 29 + 3600000LL * 7 + 59999) {
        int64_t back = 0;
        size_t n = ts_time_format_iso(ms, buf, sizeof(buf));
        cr_assert_eq(ts_time_parse_iso(buf, n, FULL, &back), TS_OK, "%s", buf);
        cr_assert_eq(back, ms, "%s", buf);
    }
}
