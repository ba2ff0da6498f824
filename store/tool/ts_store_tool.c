/*
 * tagstream-store as a library: the run of one command line. The parts are
 * listed in ts_stool_int.h.
 */
#include "ts_store_tool.h"
#include "ts_stool_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int ts_store_tool_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const ts_conf_prop props[] = {
        TS_CONF_KEY_BOOTSTRAP_SERVERS(ts_stool, conf_bootstrap, NULL, 0),
        TS_CONF_KEY_MSK_IAM(ts_stool, iam),
        {NULL},
    };
    ts_stool c;
    char cerr[1024];
    int rc = 0;

    memset(&c, 0, sizeof(c));
    c.out = out;
    c.app_id = "tagstream";
    c.window_ms = 20000;
    c.grace_ms = 0;
    c.from = INT64_MIN;
    c.to = INT64_MAX;
    c.timeout_ms = 60000;
    if (ts_conf_init(&c.conf, props, &c, cerr, sizeof(cerr))) {
        fprintf(err, "tagstream-store: %s\n", cerr);
        return TS_STORE_TOOL_FAILED;
    }
    c.conf.ignore_unknown = 1; /* the processor's own file has many more keys */
    if (ts_stool_parse(&c, argc, argv)) {
        fprintf(err, "tagstream-store: %s\n", c.msg);
        ts_stool_close(&c);
        return c.rc;
    }
    if (c.help) {
        fputs(ts_stool_usage, out);
        ts_stool_close(&c);
        return 0;
    }
    if (ts_conf_cli_secrets(&c.conf, NULL, cerr, sizeof(cerr)))
        fprintf(err, "tagstream-store: warning: %s\n", cerr);
    if (!ts_stool_open(&c)) {
        switch (c.cmd) {
        case TS_CMD_TASKS:
            ts_stool_cmd_tasks(&c);
            break;
        case TS_CMD_DUMP:
        case TS_CMD_TOP:
            ts_stool_cmd_entries(&c);
            break;
        case TS_CMD_VERIFY:
            ts_stool_cmd_verify(&c);
            break;
        }
    }
    if (fflush(out) != 0 || ferror(out))
        ts_stool_fail(&c, TS_STORE_TOOL_FAILED, "cannot write the output: %s", strerror(errno));
    if (c.rc) {
        /* one line, whatever a library put in the message */
        for (char *p = c.msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        fprintf(err, "tagstream-store: %s\n", c.msg);
    }
    rc = c.rc;
    ts_stool_close(&c);
    return rc;
}
