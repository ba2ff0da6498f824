#include "ts_window.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ts_test.h"

struct win_case {
    int64_t ts, size, start;
};

static struct win_case win_cases[] = {
    {0, 20000, 0},
    {1, 20000, 0},
    {19999, 20000, 0},
    {20000, 20000, 20000}, /* a boundary belongs to the window it starts */
    {20001, 20000, 20000},
    {1764176400123, 20000, 1764176400000},
    {-1, 20000, -20000}, /* floor, not truncation toward zero */
    {-20000, 20000, -20000},
    {-20001, 20000, -40000},
    {INT64_MAX, 20000, INT64_MAX - INT64_MAX % 20000},
    {INT64_MIN, 20000, INT64_MIN}, /* the true floor is not representable */
    {INT64_MIN + 4192, 20000, INT64_MIN},
    {INT64_MIN + 15808 + 5, 20000, INT64_MIN + 15808}, /* the lowest representable window */
    {7, 1, 7},
};

ParameterizedTestParameters(window, start)
{
    return ts_test_indices(sizeof(win_cases) / sizeof(win_cases[0]));
}

ParameterizedTest(size_t *i, window, start)
{
    const struct win_case *c = &win_cases[*i];
    cr_expect_eq(ts_window_start(c->ts, c->size), c->start, "start(%lld, %lld) = %lld, want %lld",
                 (long long)c->ts, (long long)c->size, (long long)ts_window_start(c->ts, c->size),
                 (long long)c->start);
}

Test(window, end_saturates)
{
    cr_expect_eq(ts_window_end(0, 20000), 20000);
    cr_expect_eq(ts_window_end(-20000, 20000), 0);
    cr_expect_eq(ts_window_end(INT64_MAX - 5, 20000), INT64_MAX);
}

Test(window, closes_at_end_plus_grace)
{
    /* window [0, 20000), grace 0: closed once stream time reaches 20000 */
    cr_expect_not(ts_window_closed(20000, 0, 19999));
    cr_expect(ts_window_closed(20000, 0, 20000));
    cr_expect(ts_window_closed(20000, 0, 40000));
    /* grace 5000: open until 25000 */
    cr_expect_not(ts_window_closed(20000, 5000, 24999));
    cr_expect(ts_window_closed(20000, 5000, 25000));
    /* a window whose close time passes the end of time never closes */
    cr_expect_not(ts_window_closed(INT64_MAX, 0, INT64_MAX));
    cr_expect_not(ts_window_closed(INT64_MAX - 10, 100, INT64_MAX));
    /* negative stream time (nothing seen yet) closes nothing */
    cr_expect_not(ts_window_closed(20000, 0, INT64_MIN));
}
