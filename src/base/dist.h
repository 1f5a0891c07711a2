/* loom: several processes working as one, over Open MPI. A loom built with
 * MPI (./configure --with-mpi, automatic when Open MPI is installed) joins
 * the other ranks only when mpirun (or srun) started it, which it sees in
 * its environment; a plain run, and the test suite, never initialise MPI
 * and pay nothing. Without MPI in the build every function below works for
 * a world of one process.
 *
 * The collectives are called by one thread at a time (MPI_THREAD_SERIALIZED):
 * callers that share a rank between threads hold a lock around them. Every
 * rank must make the same collective calls in the same order; a rank that
 * fails stops the whole job (loom_dist_abort) rather than leave the others
 * waiting. Knows nothing of what is being reduced. */
#ifndef LOOM_BASE_DIST_H
#define LOOM_BASE_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Joins the job when launched by mpirun/srun: 0, or LOOM_EINVAL when loom
 * was started by mpirun but built without MPI, or MPI could not start with
 * the thread support loom needs. Call once, before any thread starts. */
int loom_dist_init(int *argc, char ***argv);
/* Leaves the job (MPI_Finalize) if loom_dist_init joined one. */
void loom_dist_finalize(void);
/* Stops every rank of the job with `status` (MPI_Abort); returns only when
 * there is no job. */
void loom_dist_abort(int status);

/* This process' rank and the number of ranks (0 and 1 without a job). */
int loom_dist_rank(void);
int loom_dist_size(void);
/* The MPI library loom was built with ("Open MPI v4.1.4", ...), or NULL. */
const char *loom_dist_library(void);

/* Element-wise sums over all ranks, in place; every rank gets the result.
 * Large buffers go in chunks (MPI counts are ints). 0 or LOOM_EIO. */
int loom_dist_sum_f32(float *buf, size_t n);
int loom_dist_sum_f64(double *buf, size_t n);
int loom_dist_sum_u64(uint64_t *buf, size_t n);
/* Every rank's `n` bytes at `mine`, in rank order: *all (malloc'ed, freed
 * by the caller) holds them back to back and sizes[r] (an array of
 * loom_dist_size() entries the caller provides) says how many are rank r's. */
int loom_dist_allgather(const void *mine, size_t n, char **all, size_t *sizes);
/* Rank `root`'s n bytes at buf, copied to every rank's buf. */
int loom_dist_bcast(void *buf, size_t n, int root);
/* Seconds this process spent in the calls above (its communication time). */
double loom_dist_seconds(void);

#endif
