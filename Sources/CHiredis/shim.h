#ifndef SKILLUP_CHIREDIS_SHIM_H
#define SKILLUP_CHIREDIS_SHIM_H
// Only the RESP reader and the argv command formatter: the socket is SwiftNIO's, so hiredis'
// blocking and adapter APIs are deliberately not exposed.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

// The parser is written against hiredis 0.14 (Debian 12) and 1.x, whose reader API and redisReply
// layout for RESP2 are the same; 1.x adds RESP3 reply types, which ReplyParser reports as errors
// (the client never asks for RESP3). Older versions differ in the reader's fields.
#if HIREDIS_MAJOR == 0 && HIREDIS_MINOR < 14
#error "hiredis 0.14 or later is required (Debian 12: libhiredis-dev)"
#endif
#endif
