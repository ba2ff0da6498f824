/*
 * Helpers shared by the Criterion tests.
 *
 * Criterion may run each parameterized case in a fresh process image, where
 * pointers into the first image's static data are not valid: parameters that
 * hold pointers crash. So tests keep their case tables static and pass only
 * indices into them.
 */
#ifndef TS_TEST_H
#define TS_TEST_H

#include <criterion/alloc.h>
#include <criterion/parameterized.h>

static inline void ts_test_free_params(struct criterion_test_params *p)
{
    cr_free(p->params);
}

static inline struct criterion_test_params ts_test_indices(size_t n)
{
    size_t *idx = cr_malloc(n * sizeof(*idx));

    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, n, ts_test_free_params);
}

#endif
