/* loom: several processes working as one, over Open MPI (see dist.h). */
#include "config.h"
#include "base/dist.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/progress.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1;
static double seconds;

/* The number of ranks mpirun or srun says it started, 0 when neither did. */
static long launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
                                       "SLURM_NTASKS"};
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return 0;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atol(v) > 0)
            return atol(v);
    }
    return 1;
}

int loom_dist_rank(void)
{
    return rank_;
}

int loom_dist_size(void)
{
    return size_;
}

double loom_dist_seconds(void)
{
    return seconds;
}

/* allgather in a world of one: a copy of mine */
static int gather_alone(const void *mine, size_t n, char **all, size_t *sizes)
{
    sizes[0] = n;
    *all = loom_malloc(n ? n : 1, 1);
    if (!*all)
        return LOOM_ENOMEM;
    memcpy(*all, mine, n);
    return 0;
}

#ifdef HAVE_MPI

static int joined;

const char *loom_dist_library(void)
{
    static char name[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!name[0] && MPI_Get_library_version(name, &len) == MPI_SUCCESS) {
        /* "Open MPI v4.1.4, package: ...": keep the first clause */
        name[strcspn(name, ",\n")] = 0;
    }
    return name;
}

int loom_dist_init(int *argc, char ***argv)
{
    if (joined || launched_size() == 0)
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return loom_error(LOOM_EINVAL, "MPI could not start");
    joined = 1;
    if (provided < MPI_THREAD_SERIALIZED)
        return loom_error(LOOM_EINVAL,
                          "the MPI library gives no thread support (MPI_THREAD_SERIALIZED)");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    return 0;
}

void loom_dist_finalize(void)
{
    if (joined)
        MPI_Finalize();
    joined = 0;
}

void loom_dist_abort(int status)
{
    if (joined)
        MPI_Abort(MPI_COMM_WORLD, status);
}

/* Chunks of at most this many elements per call. */
#define CHUNK (1 << 24)

/* An allreduce sum (root < 0) or a broadcast from root of buf's n
 * elements, in chunks. */
static int collective(void *buf, size_t n, size_t elem, MPI_Datatype type, int root)
{
    if (size_ == 1)
        return 0;
    double t0 = loom_now();
    for (size_t i = 0; i < n; i += CHUNK) {
        int count = (int)(n - i < CHUNK ? n - i : CHUNK);
        void *p = (char *)buf + i * elem;
        int rc = root < 0 ? MPI_Allreduce(MPI_IN_PLACE, p, count, type, MPI_SUM, MPI_COMM_WORLD)
                          : MPI_Bcast(p, count, type, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return loom_error(LOOM_EIO, root < 0 ? "MPI_Allreduce failed" : "MPI_Bcast failed");
    }
    seconds += loom_now() - t0;
    return 0;
}

int loom_dist_sum_f32(float *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, MPI_FLOAT, -1);
}

int loom_dist_sum_f64(double *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, MPI_DOUBLE, -1);
}

int loom_dist_sum_u64(uint64_t *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, MPI_UINT64_T, -1);
}

int loom_dist_bcast(void *buf, size_t n, int root)
{
    return collective(buf, n, 1, MPI_BYTE, root);
}

int loom_dist_allgather(const void *mine, size_t n, char **all, size_t *sizes)
{
    *all = NULL;
    if (size_ == 1)
        return gather_alone(mine, n, all, sizes);
    double t0 = loom_now();
    uint64_t mine64 = n, *all64 = loom_malloc((size_t)size_, sizeof *all64);
    int *counts = loom_malloc((size_t)size_, sizeof *counts);
    int *displs = loom_malloc((size_t)size_, sizeof *displs);
    int rc = 0;
    if (!all64 || !counts || !displs)
        rc = LOOM_ENOMEM;
    else if (MPI_Allgather(&mine64, 1, MPI_UINT64_T, all64, 1, MPI_UINT64_T, MPI_COMM_WORLD) !=
             MPI_SUCCESS)
        rc = loom_error(LOOM_EIO, "MPI_Allgather failed");
    size_t total = 0;
    for (int r = 0; r < size_ && rc == 0; r++) {
        if (all64[r] > (uint64_t)INT_MAX || total + all64[r] > (uint64_t)INT_MAX)
            rc = loom_error(LOOM_EINVAL, "the ranks' data to gather exceed 2 GB");
        else {
            sizes[r] = (size_t)all64[r];
            counts[r] = (int)all64[r];
            displs[r] = (int)total;
            total += all64[r];
        }
    }
    if (rc == 0 && !(*all = loom_malloc(total ? total : 1, 1)))
        rc = LOOM_ENOMEM;
    if (rc == 0 && MPI_Allgatherv(mine, (int)n, MPI_BYTE, *all, counts, displs, MPI_BYTE,
                                  MPI_COMM_WORLD) != MPI_SUCCESS)
        rc = loom_error(LOOM_EIO, "MPI_Allgatherv failed");
    free(all64), free(counts), free(displs);
    if (rc < 0) {
        free(*all);
        *all = NULL;
    }
    seconds += loom_now() - t0;
    return rc;
}

#else /* no MPI: a world of one */

const char *loom_dist_library(void)
{
    return NULL;
}

int loom_dist_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (launched_size() > 1)
        return loom_error(LOOM_EINVAL, "started by mpirun, but this loom was built without MPI "
                                       "(install libopenmpi-dev and run ./configure --with-mpi)");
    return 0;
}

void loom_dist_finalize(void)
{
}

void loom_dist_abort(int status)
{
    (void)status;
}

int loom_dist_sum_f32(float *buf, size_t n)
{
    (void)buf, (void)n;
    return 0;
}

int loom_dist_sum_f64(double *buf, size_t n)
{
    (void)buf, (void)n;
    return 0;
}

int loom_dist_sum_u64(uint64_t *buf, size_t n)
{
    (void)buf, (void)n;
    return 0;
}

int loom_dist_bcast(void *buf, size_t n, int root)
{
    (void)buf, (void)n, (void)root;
    return 0;
}

int loom_dist_allgather(const void *mine, size_t n, char **all, size_t *sizes)
{
    return gather_alone(mine, n, all, sizes);
}

#endif
