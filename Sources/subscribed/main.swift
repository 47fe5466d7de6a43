// subscribed: Subscription plans, tiers and quotas.
import ServiceBackends

await BackedDaemon.main(
    "subscribed", defaultListen: "127.0.0.1:8082", backends: [.redis, .postgres], protectedPaths: ["/api/subscription"], publicPaths: ["/api/plans"])
