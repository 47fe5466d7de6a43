// genworker: The queue worker that runs long generation tasks.
import Generation
import ServiceBackends

await BackedDaemon.main("genworker", defaultListen: "127.0.0.1:8084", backends: WorkerDaemon.backends, setUp: WorkerDaemon.setUp)
