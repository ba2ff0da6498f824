/*
 * What the processor sets up before it joins the group (internal to
 * processor/, implemented in ts_proc_setup.c): the state directory's
 * instance id and lock, and the topics.
 *
 * Thread: the caller's, during ts_processor_new.
 */
#ifndef TS_PROC_SETUP_INT_H
#define TS_PROC_SETUP_INT_H

#include "ts_err.h"

#include <stddef.h>

typedef struct ts_processor ts_processor;

/* Lock the application's state directory (p->app_dir) for this process
 * (flock on its .lock file, kept open in p->lock_fd); TS_ERR_EXISTS when
 * another processor holds it. */
ts_err ts_proc_lock(ts_processor *p, char *errstr, size_t errstr_size);

/* p->instance_id: the configured one, else the one the state directory
 * keeps, else a new one written there atomically. */
ts_err ts_proc_instance_id(ts_processor *p, char *errstr, size_t errstr_size);

/* p->npart from the input topic, which must exist, as must the output
 * topic; the repartition and changelog topics made with that many
 * partitions or checked to have them; the dead-letter topic made if
 * configured and missing. */
ts_err ts_proc_topics(ts_processor *p, char *errstr, size_t errstr_size);

#endif
