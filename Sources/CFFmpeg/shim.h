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

#include <stdio.h>
#include <string.h>

/* Masks the user-info of every "scheme://user:pass@host" in a text, in place (same length, so no
 * buffer can overflow): FFmpeg's log lines may quote URLs, camera credentials must not reach logs. */
static inline void anomalyd_redact_urls(char *text) {
    char *p = text;
    while ((p = strstr(p, "://")) != NULL) {
        char *authority = p + 3;
        size_t length = strcspn(authority, "/?# \t\r\n\"'");
        char *at = NULL;
        for (size_t i = 0; i < length; i++) if (authority[i] == '@') at = authority + i;
        if (at) for (char *c = authority; c < at; c++) *c = '*';
        p = authority;
    }
}

/* Like av_log_default_callback (same level filter, stderr), but with URLs redacted. */
static inline void anomalyd_redacting_log(void *avcl, int level, const char *fmt, va_list vl) {
    static int print_prefix = 1;
    char line[2048];
    if (level > av_log_get_level()) return;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    anomalyd_redact_urls(line);
    fputs(line, stderr);
}

static inline void anomalyd_install_redacting_log(void) { av_log_set_callback(anomalyd_redacting_log); }
#endif
