import Logging
import ServiceLifecycle

/// Ends what an aid that stopped mid-way left running: a generation answered in the request whose
/// row is still running long after any engine call could have ended is failed as `interrupted`, and
/// its unit released. Every aid instance sweeps; the update takes each row once.
struct InterruptedSweep: Service {
    let generations: GenerationService
    /// How old a running row must be: longer than the engine's longest call.
    let after: Duration
    let interval: Duration

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    for reservation in try await generations.store.failInterrupted(olderThan: after) {
                        generations.logger.warning("interrupted generation failed", metadata: ["reservation": "\(reservation ?? "-")"])
                        await generations.end(requestID: reservation, delivered: false)
                    }
                } catch {
                    generations.logger.warning("sweep of interrupted generations failed", metadata: ["reason": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
