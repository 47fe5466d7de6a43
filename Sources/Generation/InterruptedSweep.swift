import Logging
import ServiceLifecycle

/// Keeps the leases of the generations this aid serves, and ends what an aid that stopped mid-way
/// left running: a generation answered in the request whose lease ran out is failed as
/// `interrupted`, and its unit released; never one this aid is serving, even if a renewal came
/// late. Every aid instance sweeps; the update takes each row once.
struct InterruptedSweep: Service {
    let generations: GenerationService
    let store: any GenerationStore
    let interval: Duration

    func run() async {
        let leases = generations.leases
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await store.renewLeases(ids: leases.ids, owner: leases.owner, lease: leases.length, longest: leases.longest)
                        } catch {
                            generations.logger.warning("generation leases not renewed", metadata: ["reason": "\(error)"])
                        }
                        try? await Task.sleep(for: leases.renewal)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            for reservation in try await store.failAbandoned(owner: leases.owner, serving: leases.ids) {
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
    }
}
