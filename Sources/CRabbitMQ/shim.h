#ifndef SKILLUP_CRABBITMQ_SHIM_H
#define SKILLUP_CRABBITMQ_SHIM_H
// librabbitmq 0.12 moved its headers under rabbitmq-c/; Debian 12 ships 0.11.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/framing.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_framing.h>
#endif

// amqp_login_with_properties is variadic; this fixes the PLAIN mechanism's two arguments. The
// properties are merged with librabbitmq's own (their capabilities tables too).
static inline amqp_rpc_reply_t skillup_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                         int channel_max, int frame_max, int heartbeat,
                                                         const amqp_table_t *properties,
                                                         const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

// Method ids are cast macros, which Swift does not import: expose them as constants.
static const amqp_method_number_t skillup_basic_ack_method = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t skillup_basic_nack_method = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t skillup_basic_return_method = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t skillup_basic_cancel_method = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t skillup_channel_close_method = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t skillup_connection_close_method = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t skillup_connection_blocked_method = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t skillup_connection_unblocked_method = AMQP_CONNECTION_UNBLOCKED_METHOD;
#endif
