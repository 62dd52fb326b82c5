/* Build facts and a serial stand-in for the OpenMP runtime, so one .pyx builds with and without OpenMP. */
#ifndef FASTLOSS_CONFIG_H
#define FASTLOSS_CONFIG_H

#ifdef _OPENMP
#include <omp.h>
#define FL_OPENMP 1
static inline int fl_max_threads(void) { return omp_get_max_threads(); }
static inline int fl_num_procs(void) { return omp_get_num_procs(); }
#else
#define FL_OPENMP 0
static inline int fl_max_threads(void) { return 1; }
static inline int fl_num_procs(void) { return 1; }
#endif

#ifndef FASTLOSS_BUILD_FLAGS
#define FASTLOSS_BUILD_FLAGS "unknown"
#endif
#ifndef FASTLOSS_COMPILER
#define FASTLOSS_COMPILER "unknown"
#endif

#endif
