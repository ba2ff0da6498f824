/* The processor's configuration checks: retention follows the window. */
#include "ts_config.h"
#include "ts_proc_config.h"

#include <criterion/criterion.h>
#include <string.h>

static ts_proc_config cfg;
static ts_conf conf;
static char err[512];

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cr_assert_eq(ts_conf_init(&conf, ts_proc_config_props, &cfg, err, sizeof(err)), TS_OK, "%s",
                 err);
    cr_assert_eq(ts_conf_set(&conf, "bootstrap.servers", "127.0.0.1:9092", TS_CONF_SRC_FLAG, err,
                             sizeof(err)),
                 TS_OK, "%s", err);
}

static void teardown(void)
{
    ts_conf_destroy(&conf);
}

static void set(const char *key, const char *value)
{
    cr_assert_eq(ts_conf_set(&conf, key, value, TS_CONF_SRC_FLAG, err, sizeof(err)), TS_OK, "%s",
                 err);
}

TestSuite(proc_config, .init = setup, .fini = teardown);

Test(proc_config, unset_retention_is_one_hour_for_the_default_window)
{
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_proc_config_retention(&cfg), 3600000);
}

Test(proc_config, unset_retention_grows_with_a_long_grace)
{
    /* the message users got before: 3600000 is less than 3620000 */
    set("window.grace.ms", "3600000");
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_proc_config_retention(&cfg), 3620000);
    set("window.size.ms", "7200000");
    set("window.grace.ms", "0");
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_proc_config_retention(&cfg), 7200000);
}

Test(proc_config, explicit_retention_is_kept)
{
    set("window.retention.ms", "60000");
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_proc_config_retention(&cfg), 60000);
    set("window.retention.ms", "20000"); /* exactly size + grace */
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_proc_config_retention(&cfg), 20000);
}

Test(proc_config, explicit_retention_too_short_is_refused)
{
    set("window.grace.ms", "3600000");
    set("window.retention.ms", "3600000");
    cr_assert_eq(ts_proc_config_validate(&cfg, err, sizeof(err)), TS_ERR_INVALID);
    cr_assert_str_eq(err, "window.retention.ms: 3600000 is less than window.size.ms + "
                          "window.grace.ms (3620000)");
}

Test(proc_config, zero_retention_is_not_a_value)
{
    cr_assert_neq(
        ts_conf_set(&conf, "window.retention.ms", "0", TS_CONF_SRC_FLAG, err, sizeof(err)), TS_OK);
}
