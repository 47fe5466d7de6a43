import AMQPClient
import Contracts
import Foundation
import Messaging
import Testing

@Suite("Messages between services, as they travel")
struct MessageTests {
    @Test func aUserEventTravelsAsTheDocumentedJSONUnderItsUsersRoutingKey() throws {
        let event = UserEvent(
            id: "6f1c2e4a-0000-4000-8000-000000000001", type: .generationSucceeded, userID: "0b6c9a52-1111-4111-8111-000000000002",
            time: Date(timeIntervalSince1970: 1_796_000_000.75), data: ["task_id": "t-1", "status": "succeeded"])
        let json = String(decoding: try event.encoded(), as: UTF8.self)
        #expect(
            json
                == #"{"data":{"status":"succeeded","task_id":"t-1"},"id":"6f1c2e4a-0000-4000-8000-000000000001","time":"2026-11-30T00:53:20Z","type":"generation.succeeded","user_id":"0b6c9a52-1111-4111-8111-000000000002"}"#
        )
        #expect(event.routingKey == "user.0b6c9a52-1111-4111-8111-000000000002")
        #expect(try UserEvent.decode(Array(json.utf8)) == event)
    }

    @Test func anEventOfAnUnknownTypeIsRefusedRatherThanMisread() {
        let body = #"{"data":{},"id":"e","time":"2026-11-30T00:53:20Z","type":"generation.exploded","user_id":"u"}"#
        #expect(throws: DecodingError.self) { try UserEvent.decode(Array(body.utf8)) }
        #expect(throws: DecodingError.self) { try UserEvent.decode(Array(#"{"id":"e"}"#.utf8)) }
    }

    @Test func everyEventTypeOfTheArchitectureIsKnownByItsWireName() {
        #expect(
            Set(UserEvent.Kind.allCases.map(\.rawValue)) == [
                "generation.succeeded", "generation.failed", "generation.progress", "generation.canceled", "subscription.changed", "session.revoked",
                "document.shared", "document.updated",
            ])
    }

    @Test func aGenerationTaskCarriesOnlyItsTaskID() throws {
        let message = GenerationTaskMessage(taskID: "3d9b")
        #expect(String(decoding: try message.encoded(), as: UTF8.self) == #"{"task_id":"3d9b"}"#)
        #expect(try GenerationTaskMessage.decode(Array(#"{"task_id":"3d9b"}"#.utf8)) == message)
        #expect(throws: DecodingError.self) { try GenerationTaskMessage.decode(Array(#"{"id":"3d9b"}"#.utf8)) }
    }

    @Test func aTaskMessageIsPersistentMandatoryAndNamedByItsTaskWhereverItGoes() throws {
        let work = try AMQPMessage.generationTask("3d9b", routingKey: GenerationTaskMessage.workQueue(paid: true))
        #expect(work.exchange == "generate" && work.routingKey == "generate.long.paid")
        #expect(work.persistent && work.mandatory, "a task no queue takes must come back as a failure")
        #expect(work.messageID == "3d9b" && work.contentType == "application/json" && work.body == Array(#"{"task_id":"3d9b"}"#.utf8))
        let retry = try AMQPMessage.generationTask("3d9b", routingKey: GenerationTaskMessage.retryQueue(paid: false), expiration: .seconds(2))
        #expect(retry.routingKey == "generate.retry" && retry.expiration == .seconds(2))
        let dead = try AMQPMessage.generationTask("3d9b", routingKey: GenerationTaskMessage.deadRoutingKey, failure: "engine_failed")
        #expect(dead.headers == ["failure": "engine_failed"])
        let traced = try AMQPMessage.generationTask(
            "3d9b", routingKey: GenerationTaskMessage.workQueue(paid: false), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(traced.headers == ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], "the request's trace, as HTTP carries it")
        let event = UserEvent(type: .generationFailed, userID: "u1")
        let published = try AMQPMessage.userEvent(event)
        let body = try event.encoded()
        #expect(published.exchange == "events" && published.routingKey == "user.u1" && published.body == body)
    }

    @Test func theTopologyRoutesNewRetriedAndDeadTasksToTheirQueuesAndEveryUsersEventsToNotifydAndBotd() {
        let topology = AMQPTopology.skillup
        let bindings = Set(topology.bindings.map { "\($0.exchange) \($0.routingKey) -> \($0.queue)" })
        #expect(
            bindings == [
                "generate generate.long -> generate.long", "generate generate.retry -> generate.retry", "generate generate.dead -> generate.dead",
                "generate generate.long.paid -> generate.long.paid", "generate generate.retry.paid -> generate.retry.paid",
                "events user.* -> notify.events", "events user.* -> bots.events",
            ])
        let bots = topology.queues.first { $0.name == "bots.events" }
        #expect(bots?.messageTTL == .seconds(86_400), "without botd running, its queue must not grow for ever")
        let notify = topology.queues.first { $0.name == "notify.events" }
        #expect(notify?.singleActiveConsumer == true, "two notifyd storing at once could keep a user's events out of order")
        let retry = topology.queues.first { $0.name == "generate.retry" }
        #expect(retry?.deadLetterRoutingKey == "generate.long", "a retried task must come back to the work queue")
        let paidRetry = topology.queues.first { $0.name == "generate.retry.paid" }
        #expect(paidRetry?.deadLetterRoutingKey == "generate.long.paid", "a retried paid task must keep its class")
        for name in ["generate.long", "generate.long.paid"] {
            let work = topology.queues.first { $0.name == name }
            #expect(work?.deadLetterRoutingKey == "generate.dead")
            #expect(work?.deliveryLimit == 5, "a message that crashes every worker must end in generate.dead")
        }
        #expect(topology.queues.allSatisfy { $0.quorum })
        #expect(topology.exchanges.map(\.name).sorted() == ["events", "generate"])
    }

    @Test func sharedRedisKeysAreTheOnesOtherServicesRead() {
        #expect(SharedKeys.tier(userID: "u1") == "billing:tier:u1")
        #expect(SharedKeys.blocked(userID: "u1") == "auth:blocked:u1")
        #expect(SharedKeys.revocationChannel == "auth:revocations")
    }
}
