/*
 * Fuzz target: the properties file parser and the value checks of the
 * configuration (common/ts_config), on the producer's table (every type of
 * key), then the producer's own validation (ts_pconf_finish). The input is
 * the file, read through a memory file descriptor.
 */
#include "ts_config.h"
#include "ts_pconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    char err[512], *envp[] = {NULL};
    ts_pconf pc;
    ts_conf conf;

    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    memset(&pc, 0, sizeof(pc));
    if (ts_conf_init(&conf, ts_pconf_props, &pc, err, sizeof(err)) != TS_OK)
        abort();
    if (ts_conf_load_file(&conf, path, err, sizeof(err)) == TS_OK) {
        ts_pconf_finish(&pc, envp, err, sizeof(err));
        ts_pconf_clear(&pc);
    } else if (!err[0]) {
        abort(); /* a refusal says why */
    }
    ts_conf_destroy(&conf);
    return 0;
}
