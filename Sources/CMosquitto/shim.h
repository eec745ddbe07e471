#ifndef ANOMALYD_CMOSQUITTO_SHIM_H
#define ANOMALYD_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#endif
