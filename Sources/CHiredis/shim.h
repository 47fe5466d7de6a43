#ifndef SKILLUP_CHIREDIS_SHIM_H
#define SKILLUP_CHIREDIS_SHIM_H
// Only the RESP reader and the argv command formatter: the socket is SwiftNIO's, so hiredis'
// blocking and adapter APIs are deliberately not exposed.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
