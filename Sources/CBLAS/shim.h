#ifndef ANOMALYD_CBLAS_SHIM_H
#define ANOMALYD_CBLAS_SHIM_H
#include <cblas.h>

/* LAPACK routines that OpenBLAS ships (Fortran ABI; Debian builds it without LAPACKE). */
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
#endif
