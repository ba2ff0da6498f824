/*
 * ts_fs: the few file-system helpers the binaries share.
 */
#ifndef TS_FS_H
#define TS_FS_H

#include "ts_err.h"

#include <stddef.h>

/* mkdir -p: create path and its missing parents (mode 0755). An existing
 * directory is not an error. TS_ERR_IO names the directory that failed. */
ts_err ts_fs_mkdirs(const char *path, char *errstr, size_t errstr_size);

/* rm -rf: delete path and everything below it, without following symbolic
 * links. A missing path is not an error. */
ts_err ts_fs_remove_tree(const char *path, char *errstr, size_t errstr_size);

#endif
