import Logging

/// One connected publisher channel in confirm mode, and the confirm bookkeeping for it.
///
/// Lives on the publisher's thread only.
final class PublisherSession {
    let connection: Connection
    /// The delivery tag the broker gives the next publish (confirm mode numbers them from 1).
    private var nextSequence: UInt64 = 1
    /// Whether the broker refused (nacked) a message on this channel. The worker then opens a new
    /// one: RabbitMQ 3.10 keeps refusing every publish on a channel whose quorum-queue client
    /// started while the queue's leader was being re-elected (a node lost), and a new channel
    /// finds the new leader.
    private(set) var wasRefused = false

    init(_ configuration: AMQPConfiguration, connectTimeout: Duration) throws(AMQPError) {
        connection = try Connection.open(configuration, connectTimeout: connectTimeout)
        try connection.enableConfirms()
    }

    /// Reads whatever the broker sent while idle; confirms arriving after their batch timed out are
    /// dropped here.
    func serviceIdleConnection() throws(AMQPError) {
        _ = try connection.nextConfirmEvent(timeout: .milliseconds(1))
    }

    /// Runs the commands, removing each from `commands` as it answers it. Throws if the connection
    /// broke; commands not yet started stay in `commands` for the next connection.
    func run(_ commands: inout [PublisherWorker.Command], logger: Logger) throws(AMQPError) {
        var batches: [PendingBatch] = []
        while !commands.isEmpty {
            let command = commands.removeFirst()
            if let reason = connection.blockedReason {
                // The broker reads nothing while it blocks us: sending would only wait out the timeout.
                command.fail(AMQPError(.brokerBlocked, "the broker is blocking publishers (\(reason)); nothing was sent, retry later"))
                continue
            }
            switch command {
            case .declare(let topology, _, let continuation):
                do {
                    try connection.declare(topology)
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                    fail(batches, with: error)
                    throw error
                }
            case .publish(let messages, let deadline, let continuation):
                batches.append(
                    PendingBatch(firstSequence: nextSequence, count: messages.count, deadline: deadline, continuation: continuation))
                for message in messages {
                    do throws(AMQPError) {
                        try connection.withSendDeadline(deadline) { () throws(AMQPError) in
                            try connection.publish(message, sequence: nextSequence)
                        }
                        nextSequence += 1
                    } catch {
                        fail(batches, with: error)
                        throw error
                    }
                }
            }
        }
        try awaitConfirms(&batches, logger: logger)
    }

    /// Reads confirms until every batch is answered or past its deadline.
    private func awaitConfirms(_ batches: inout [PendingBatch], logger: Logger) throws(AMQPError) {
        let clock = ContinuousClock()
        while true {
            batches.removeAll { $0.finishIfComplete() }
            guard let earliest = batches.map(\.deadline).min() else { return }
            let now = clock.now
            if earliest <= now {
                let error =
                    connection.blockedReason.map {
                        AMQPError(.brokerBlocked, "the broker blocked publishers (\($0)) before confirming; the message may or may not be delivered")
                    } ?? AMQPError(.timeout, "the broker did not confirm within the timeout")
                for index in batches.indices where batches[index].deadline <= now {
                    batches[index].failRemaining(error)
                }
                continue
            }
            let event: Connection.ConfirmEvent?
            do {
                event = try connection.nextConfirmEvent(timeout: earliest - now)
            } catch {
                fail(batches, with: error)
                throw error
            }
            guard let event else { continue }
            switch event {
            case .ack(let tag, let multiple):
                settle(&batches, tag: tag, multiple: multiple, with: .success(()))
            case .nack(let tag, let multiple):
                wasRefused = true
                settle(&batches, tag: tag, multiple: multiple, with: .failure(AMQPError(.nacked, "the broker refused the message")))
            case .returned(let sequence, let replyCode, let replyText):
                guard let sequence, let index = batches.firstIndex(where: { $0.contains(sequence) }) else {
                    logger.warning("AMQP publisher got a return it cannot match", metadata: ["amqp.reply": "\(replyCode) \(replyText)"])
                    continue
                }
                batches[index].markReturned(sequence, AMQPError(.returned, "the broker returned the message: \(replyCode) \(replyText)"))
            }
        }
    }

    private func settle(_ batches: inout [PendingBatch], tag: UInt64, multiple: Bool, with outcome: Result<Void, AMQPError>) {
        for index in batches.indices {
            batches[index].settle(through: tag, multiple: multiple, with: outcome)
        }
    }

    private func fail(_ batches: [PendingBatch], with error: AMQPError) {
        let lost = AMQPError(
            error.code == .channelClosed ? .channelClosed : .connectionLost,
            "\(error.message); messages without a confirm may or may not have been delivered")
        for var batch in batches {
            batch.failRemaining(lost)
            _ = batch.finishIfComplete()
        }
    }
}
