#ifndef SKILLUP_COPENSSL_SHIM_H
#define SKILLUP_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/* Compound macros Swift cannot import. */
static inline int skillup_selection_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int skillup_selection_keypair(void) { return EVP_PKEY_KEYPAIR; }
static inline long skillup_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/* OSSL_PARAM_BLD_push_* keeps the key pointer until OSSL_PARAM_BLD_to_param: these literals live forever,
   unlike a Swift String bridged to a temporary C string. */
static inline const char *skillup_param_group_name(void) { return OSSL_PKEY_PARAM_GROUP_NAME; }
static inline const char *skillup_param_pub_key(void) { return OSSL_PKEY_PARAM_PUB_KEY; }
static inline const char *skillup_param_priv_key(void) { return OSSL_PKEY_PARAM_PRIV_KEY; }
static inline const char *skillup_param_ec_pub_x(void) { return OSSL_PKEY_PARAM_EC_PUB_X; }
static inline const char *skillup_param_ec_pub_y(void) { return OSSL_PKEY_PARAM_EC_PUB_Y; }
static inline const char *skillup_param_rsa_n(void) { return OSSL_PKEY_PARAM_RSA_N; }
static inline const char *skillup_param_rsa_e(void) { return OSSL_PKEY_PARAM_RSA_E; }
static inline const char *skillup_group_p256(void) { return "P-256"; }

/* A password callback that never prompts on the terminal: encrypted PEM keys simply fail to load. */
static inline int skillup_no_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}
static inline pem_password_cb *skillup_no_password_callback(void) { return skillup_no_password; }
#endif
