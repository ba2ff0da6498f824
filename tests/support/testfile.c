#include "testfile.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

size_t tf_records_load(const char *dir, const char *name, tf_record *out, size_t max)
{
    char path[1024], line[1024];
    size_t n = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "cannot read the fixture %s", path);
    while (fgets(line, sizeof(line), fp)) {
        char *t1, *t2;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        cr_assert_lt(n, max, "%s: more than %zu records", path, max);
        line[strcspn(line, "\n")] = '\0';
        t1 = strchr(line, '\t');
        t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        cr_assert_not_null(t2, "%s: a line without key, value and timestamp", path);
        *t1 = *t2 = '\0';
        cr_assert_lt(strlen(line), sizeof(out[n].key), "%s: key too long", path);
        cr_assert_lt(strlen(t1 + 1), sizeof(out[n].value), "%s: value too long", path);
        memcpy(out[n].key, line, strlen(line) + 1);
        memcpy(out[n].value, t1 + 1, strlen(t1 + 1) + 1);
        out[n].ts = strtoll(t2 + 1, NULL, 10);
        n++;
    }
    fclose(fp);
    return n;
}
