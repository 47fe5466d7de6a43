// aid: AI generation requests: short ones answered, long ones queued.
import ServiceBackends

await BackedDaemon.main(
    "aid", defaultListen: "127.0.0.1:8083", backends: [.redis, .postgres, .rabbitmq], protectedPaths: ["/api/generate", "/api/generations"])
