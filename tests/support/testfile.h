/* testfile: reading whole files in tests (fixtures, logs a child wrote). */
#ifndef TS_TESTFILE_H
#define TS_TESTFILE_H

#include <stddef.h>

/* The whole file, NUL-terminated, in malloc'd memory, its length in *len
 * (when len is not NULL); NULL when it cannot be opened or read. */
char *tf_read(const char *path, size_t *len);

/* dir/name read as tf_read does; the calling test fails when it cannot. */
char *tf_fixture(const char *dir, const char *name, size_t *len);

#endif
