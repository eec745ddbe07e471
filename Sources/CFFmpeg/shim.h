#ifndef ANOMALYD_CFFMPEG_SHIM_H
#define ANOMALYD_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/error.h>

/* AVERROR(e) and friends are macros Swift cannot import. */
static inline int anomalyd_averror(int e) { return AVERROR(e); }
static inline int anomalyd_averror_eof(void) { return AVERROR_EOF; }
#endif
