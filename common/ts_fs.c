#include "ts_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

ts_err ts_fs_private_dir(const char *path, int nofollow, char *errstr, size_t errstr_size)
{
    char parent[4096];
    const char *slash = strrchr(path, '/');
    struct stat st;
    ts_err err;

    if (!*path || strlen(path) >= sizeof(parent))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad directory name \"%s\"", path);
    if (slash && slash != path) {
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = '\0';
        err = ts_fs_mkdirs(parent, errstr, errstr_size);
        if (err)
            return err;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot create %s: %s", path,
                         strerror(errno));
    if ((nofollow ? lstat(path, &st) : stat(path, &st)) != 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot read %s: %s", path,
                         strerror(errno));
    if (S_ISLNK(st.st_mode))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "%s is a symbolic link, not a directory: refusing to follow it", path);
    if (!S_ISDIR(st.st_mode))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s is not a directory", path);
    if (st.st_uid != geteuid())
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "state directory %s belongs to uid %u, not to this user (uid %u): "
                         "refusing it, its owner could change our state and our "
                         "transactional.id; use a directory of our own",
                         path, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "state directory %s is writable by %s (mode %04o): refusing it, "
                         "other users could change our state; chmod go-w %s",
                         path, st.st_mode & S_IWOTH ? "every user" : "its group",
                         (unsigned)(st.st_mode & 07777), path);
    return TS_OK;
}

char *ts_fs_default_state_dir(char *errstr, size_t errstr_size)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char *out = NULL;
    int n;

    /* the XDG Base Directory rule: a relative XDG_STATE_HOME is ignored */
    if (xdg && xdg[0] == '/')
        n = asprintf(&out, "%s/tagstream", xdg);
    else if (geteuid() == 0)
        n = asprintf(&out, "/var/lib/tagstream");
    else if (home && home[0] == '/')
        n = asprintf(&out, "%s/.local/state/tagstream", home);
    else {
        ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                  "state.dir: no default without HOME or XDG_STATE_HOME; set state.dir "
                  "(TAGSTREAM_STATE_DIR)");
        return NULL;
    }
    if (n < 0) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    return out;
}

ts_err ts_fs_write_atomic(const char *path, const void *data, size_t len, char *errstr,
                          size_t errstr_size)
{
    char tmp[4200], dir[4200];
    const char *slash = strrchr(path, '/');
    int fd, dfd, e;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "path too long: %s", path);
    if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    else
        snprintf(dir, sizeof(dir), ".");
    /* a leftover of a crash between open and rename */
    if (unlink(tmp) != 0 && errno != ENOENT)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot remove %s: %s", tmp,
                         strerror(errno));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot create %s: %s", tmp,
                         strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail_fd;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail_fd;
    if (close(fd) != 0) {
        fd = -1;
        goto fail_fd;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail_fd;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        e = errno;
        if (dfd >= 0)
            close(dfd);
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot sync directory %s: %s", dir,
                         strerror(e));
    }
    close(dfd);
    return TS_OK;

fail_fd:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot write %s: %s", path, strerror(e));
}
