/* loom: several processes working as one, over Open MPI (see dist.h). */
#include "config.h"
#include "base/dist.h"
#include "base/alloc.h"
#include "base/dl.h"
#include "base/error.h"
#include "base/progress.h"

#include <limits.h>
#include <stdio.h>
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

/* Open MPI, opened only when mpirun started loom (base/dl.h): the
 * functions below call it through this table. Its handles are the
 * addresses of variables it exports (mpi.h's MPI_COMM_WORLD is
 * &ompi_mpi_comm_world, MPI_FLOAT &ompi_mpi_float...), looked up likewise. */
static struct {
    int (*Init_thread)(int *argc, char ***argv, int required, int *provided);
    int (*Comm_rank)(MPI_Comm comm, int *rank);
    int (*Comm_size)(MPI_Comm comm, int *size);
    int (*Finalize)(void);
    int (*Abort)(MPI_Comm comm, int status);
    int (*Allreduce)(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op,
                     MPI_Comm comm);
    int (*Bcast)(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm);
    int (*Allgather)(const void *in, int count, MPI_Datatype type, void *out, int out_count,
                     MPI_Datatype out_type, MPI_Comm comm);
    int (*Allgatherv)(const void *in, int count, MPI_Datatype type, void *out,
                      const int *out_counts, const int *displs, MPI_Datatype out_type,
                      MPI_Comm comm);
    void *world, *f32, *f64, *u64, *byte, *sum;
} mpi;

#define WORLD ((MPI_Comm)mpi.world)

static int load_mpi(void)
{
    static const loom_dl_sym syms[] = {{"MPI_Init_thread", (void **)&mpi.Init_thread},
                                       {"MPI_Comm_rank", (void **)&mpi.Comm_rank},
                                       {"MPI_Comm_size", (void **)&mpi.Comm_size},
                                       {"MPI_Finalize", (void **)&mpi.Finalize},
                                       {"MPI_Abort", (void **)&mpi.Abort},
                                       {"MPI_Allreduce", (void **)&mpi.Allreduce},
                                       {"MPI_Bcast", (void **)&mpi.Bcast},
                                       {"MPI_Allgather", (void **)&mpi.Allgather},
                                       {"MPI_Allgatherv", (void **)&mpi.Allgatherv},
                                       {"ompi_mpi_comm_world", &mpi.world},
                                       {"ompi_mpi_float", &mpi.f32},
                                       {"ompi_mpi_double", &mpi.f64},
                                       {"ompi_mpi_uint64_t", &mpi.u64},
                                       {"ompi_mpi_byte", &mpi.byte},
                                       {"ompi_mpi_op_sum", &mpi.sum},
                                       {NULL, NULL}};
    /* global: Open MPI's own plugins, which it opens in turn, link to it */
    static loom_dl_lib lib = {LOOM_MPI_SONAME, "libopenmpi3", 0, 1, syms, 0};
    return loom_dl_load(&lib);
}

const char *loom_dist_library(void)
{
    /* the version built against: --version does not open the library */
    static char name[64];
    snprintf(name, sizeof name, "Open MPI v%d.%d.%d", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION,
             OMPI_RELEASE_VERSION);
    return name;
}

int loom_dist_init(int *argc, char ***argv)
{
    if (joined || launched_size() == 0)
        return 0;
    int provided = 0, rc = load_mpi();
    if (rc < 0)
        return rc;
    if (mpi.Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return loom_error(LOOM_EINVAL, "MPI could not start");
    joined = 1;
    if (provided < MPI_THREAD_SERIALIZED)
        return loom_error(LOOM_EINVAL,
                          "the MPI library gives no thread support (MPI_THREAD_SERIALIZED)");
    mpi.Comm_rank(WORLD, &rank_);
    mpi.Comm_size(WORLD, &size_);
    return 0;
}

void loom_dist_finalize(void)
{
    if (joined)
        mpi.Finalize();
    joined = 0;
}

void loom_dist_abort(int status)
{
    if (joined)
        mpi.Abort(WORLD, status);
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
        int rc = root < 0 ? mpi.Allreduce(MPI_IN_PLACE, p, count, type, (MPI_Op)mpi.sum, WORLD)
                          : mpi.Bcast(p, count, type, root, WORLD);
        if (rc != MPI_SUCCESS)
            return loom_error(LOOM_EIO, root < 0 ? "MPI_Allreduce failed" : "MPI_Bcast failed");
    }
    seconds += loom_now() - t0;
    return 0;
}

int loom_dist_sum_f32(float *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, (MPI_Datatype)mpi.f32, -1);
}

int loom_dist_sum_f64(double *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, (MPI_Datatype)mpi.f64, -1);
}

int loom_dist_sum_u64(uint64_t *buf, size_t n)
{
    return collective(buf, n, sizeof *buf, (MPI_Datatype)mpi.u64, -1);
}

int loom_dist_bcast(void *buf, size_t n, int root)
{
    return collective(buf, n, 1, (MPI_Datatype)mpi.byte, root);
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
    else if (mpi.Allgather(&mine64, 1, (MPI_Datatype)mpi.u64, all64, 1, (MPI_Datatype)mpi.u64,
                           WORLD) != MPI_SUCCESS)
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
    if (rc == 0 && mpi.Allgatherv(mine, (int)n, (MPI_Datatype)mpi.byte, *all, counts, displs,
                                  (MPI_Datatype)mpi.byte, WORLD) != MPI_SUCCESS)
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
