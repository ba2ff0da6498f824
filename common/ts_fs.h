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

/*
 * A directory only this user may change (a state directory): created with
 * mode 0700 if missing (missing parents as by ts_fs_mkdirs); an existing
 * one must be a directory owned by this user (effective uid) and not
 * writable by group or others, else TS_ERR_INVALID with a message that
 * says which and how to fix it. nofollow: a symbolic link at path itself is
 * refused too (below a directory already checked, where a link could only
 * come from someone else). TS_ERR_IO when it cannot be created or read.
 */
ts_err ts_fs_private_dir(const char *path, int nofollow, char *errstr, size_t errstr_size);

/*
 * The default state directory: $XDG_STATE_HOME/tagstream when that is set
 * (an absolute path), else /var/lib/tagstream for root, else
 * $HOME/.local/state/tagstream. Never under /tmp, which every user shares.
 * Returns a string to free, or NULL with a message (no HOME, no memory).
 */
char *ts_fs_default_state_dir(char *errstr, size_t errstr_size);

/*
 * Replace path's content atomically and durably: a temporary file beside it
 * (mode 0600, O_EXCL|O_NOFOLLOW), fsync, rename over path, fsync of the
 * directory. A reader sees the old content or the new, never a mix; a
 * symbolic link at path is replaced, never followed. On failure path is
 * unchanged and the temporary file removed.
 */
ts_err ts_fs_write_atomic(const char *path, const void *data, size_t len, char *errstr,
                          size_t errstr_size);

/* rm -rf: delete path and everything below it, without following symbolic
 * links. A missing path is not an error. */
ts_err ts_fs_remove_tree(const char *path, char *errstr, size_t errstr_size);

#endif
