#ifndef ANOMALYD_CZMQ_SHIM_H
#define ANOMALYD_CZMQ_SHIM_H
#include <zmq.h>
#endif
