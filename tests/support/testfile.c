#include "testfile.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

char *tf_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (!fp)
        return NULL;
    /* read to the end rather than trust a size taken before: a child
     * process may still be writing the file */
    do {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!b) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
    } while (got > 0);
    if (ferror(fp)) {
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *tf_fixture(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf = tf_read(path, len);
    cr_assert_not_null(buf, "cannot read the fixture %s", path);
    return buf;
}
