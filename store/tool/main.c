/*
 * tagstream-store: inspect the state of a tagstream-processor, running or
 * stopped, without disturbing it. See docs/STORE_TOOL.md; the work is in
 * store/tool/ (its parts are listed in ts_stool_int.h).
 */
#include "ts_log.h"
#include "ts_store_tool.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    /* standard output is the tool's answer: the few log lines of the shared
     * Kafka code (a warning about a setting) go to standard error */
    ts_log_set_fd(2);
    return ts_store_tool_main(argc, argv, stdout, stderr);
}
