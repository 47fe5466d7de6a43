// docsd: users' documents, their versions, share links and shares, and users' profiles.
import Documents
import ServiceBackends

await BackedDaemon.main(
    "docsd", defaultListen: "127.0.0.1:8086", backends: DocumentsDaemon.backends, protectedPaths: DocumentsDaemon.protectedPaths,
    publicPaths: DocumentsDaemon.publicPaths, setUp: DocumentsDaemon.setUp)
