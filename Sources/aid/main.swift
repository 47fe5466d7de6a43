// aid: AI generation requests: short ones answered, long ones queued.
import Generation
import ServiceBackends

await BackedDaemon.main(
    "aid", defaultListen: "127.0.0.1:8083", backends: GenerationDaemon.backends, protectedPaths: GenerationDaemon.protectedPaths,
    setUp: GenerationDaemon.setUp)
