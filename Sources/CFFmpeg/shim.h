#ifndef ANOMALYD_CFFMPEG_SHIM_H
#define ANOMALYD_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

/* AVERROR(e), FFERRTAG and AV_NOPTS_VALUE are macros Swift cannot import. */
static inline int anomalyd_averror(int e) { return AVERROR(e); }
static inline int anomalyd_averror_eof(void) { return AVERROR_EOF; }
static inline int anomalyd_averror_exit(void) { return AVERROR_EXIT; }
static inline int anomalyd_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int anomalyd_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int64_t anomalyd_nopts_value(void) { return AV_NOPTS_VALUE; }
#endif
