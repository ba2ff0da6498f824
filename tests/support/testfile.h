/* testfile: reading whole files in tests (fixtures, logs a child wrote). */
#ifndef TS_TESTFILE_H
#define TS_TESTFILE_H

#include <stddef.h>

/* The whole file, NUL-terminated, in malloc'd memory, its length in *len
 * (when len is not NULL); NULL when it cannot be opened or read. */
char *tf_read(const char *path, size_t *len);

/* dir/name read as tf_read does; the calling test fails when it cannot. */
char *tf_fixture(const char *dir, const char *name, size_t *len);

/* One expected record of a producer fixture. */
typedef struct tf_record {
    char key[128];
    char value[128];
    long long ts;
} tf_record;

/* Append the records of dir/name (lines "key<TAB>value<TAB>timestamp";
 * blank lines and lines starting with '#' skipped) to out, at most max;
 * returns how many. The calling test fails on a file it cannot read. */
size_t tf_records_load(const char *dir, const char *name, tf_record *out, size_t max);

#endif
