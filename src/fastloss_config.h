/* Build facts and a serial stand-in for the OpenMP runtime, so one .pyx builds with and without OpenMP. */
#ifndef FASTLOSS_CONFIG_H
#define FASTLOSS_CONFIG_H

#ifdef _OPENMP
#include <omp.h>
#define FL_OPENMP 1
static inline int fl_max_threads(void) { return omp_get_max_threads(); }
static inline int fl_num_procs(void) { return omp_get_num_procs(); }
static inline double fl_wtime(void) { return omp_get_wtime(); }
static inline int fl_thread_num(void) { return omp_get_thread_num(); }
#else
#define FL_OPENMP 0
static inline int fl_max_threads(void) { return 1; }
static inline int fl_num_procs(void) { return 1; }
static inline double fl_wtime(void) { return 0.0; }
static inline int fl_thread_num(void) { return 0; }
#endif

#if defined(__linux__)
#include <sched.h>
static inline int fl_cpu(void) { return sched_getcpu(); }
#else
static inline int fl_cpu(void) { return -1; }  /* unknown: only the wait tells */
#endif

/* What the calling thread of a parallel region learns about its workers, for the warm-thread rule in
   fastloss/_engine.py: when it finished its own last block, on which CPU, and whether a worker ran a block on
   that same CPU (then the two take turns on one core). Each thread notes after every block (~20 ns). */
typedef struct {
    double own_done;
    int own_cpu;
    int shared_cpu;
} fl_region_note;

static inline void fl_region_start(fl_region_note* note) {
    note->own_done = fl_wtime();
    note->own_cpu = fl_cpu();
    note->shared_cpu = 0;
}

static inline void fl_note_block(fl_region_note* note) {
    int cpu = fl_cpu();
    if (fl_thread_num() == 0) {
        __atomic_store_n(&note->own_cpu, cpu, __ATOMIC_RELAXED);
        note->own_done = fl_wtime();
    } else if (cpu >= 0 && cpu == __atomic_load_n(&note->own_cpu, __ATOMIC_RELAXED)) {
        __atomic_store_n(&note->shared_cpu, 1, __ATOMIC_RELAXED);
    }
}

#ifndef FASTLOSS_BUILD_FLAGS
#define FASTLOSS_BUILD_FLAGS "unknown"
#endif
#ifndef FASTLOSS_COMPILER
#define FASTLOSS_COMPILER "unknown"
#endif

#endif
