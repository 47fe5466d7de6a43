// notifyd: users' events, kept in their histories and pushed to their open streams.
import Notifications
import ServiceBackends

await BackedDaemon.main(
    "notifyd", defaultListen: "127.0.0.1:8085", backends: NotificationsDaemon.backends, protectedPaths: NotificationsDaemon.protectedPaths,
    setUp: NotificationsDaemon.setUp)
