import Foundation

/// Starts the dedicated thread on which one connection's blocking librabbitmq calls run, so that they
/// never block the Swift cooperative pool or an event loop.
enum WorkerThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}
