#ifndef SKILLUP_CARGON2_SHIM_H
#define SKILLUP_CARGON2_SHIM_H
#include <argon2.h>
#endif
