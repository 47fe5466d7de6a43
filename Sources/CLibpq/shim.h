#ifndef SKILLUP_CLIBPQ_SHIM_H
#define SKILLUP_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
