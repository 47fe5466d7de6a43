// subscribed: plans, subscriptions and the exact quotas behind every generation.
import ServiceBackends
import Subscriptions

await BackedDaemon.main(
    "subscribed", defaultListen: "127.0.0.1:8082", backends: SubscriptionsDaemon.backends, protectedPaths: SubscriptionsDaemon.protectedPaths,
    publicPaths: SubscriptionsDaemon.publicPaths, setUp: SubscriptionsDaemon.setUp)
