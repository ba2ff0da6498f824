#include "ts_fs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

ts_err ts_fs_mkdirs(const char *path, char *errstr, size_t errstr_size)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad directory name \"%s\"", path);
    memcpy(buf, path, n + 1);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot create %s: %s", buf,
                             strerror(errno));
        *s = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot create %s: %s", buf,
                         strerror(errno));
    return TS_OK;
}

static int ts_fs_remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

ts_err ts_fs_remove_tree(const char *path, char *errstr, size_t errstr_size)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return TS_OK;
    if (nftw(path, ts_fs_remove_cb, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot delete %s: %s", path,
                         strerror(errno));
    return TS_OK;
}
