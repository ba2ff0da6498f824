/*
 * tagstream-store: inspect the state of a tagstream-processor, running or
 * stopped, without disturbing it. See docs/STORE_TOOL.md; the work is in
 * store/tool/ (its parts are listed in ts_stool_int.h).
 */
#include "ts_store_tool.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    return ts_store_tool_main(argc, argv, stdout, stderr);
}
