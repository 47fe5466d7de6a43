import RedisClient
import Testing

@Suite("Pub/sub against the shared redis-server", .timeLimit(.minutes(1)))
struct PubSubTests {
    @Test func subscriberReceivesMessagesPublishedFromAnotherConnection() async throws {
        let channel = TestRedis.prefix("pubsub") + "events"
        try await TestRedis.withClient { subscriber in
            try await TestRedis.withClient { publisher in
                try await subscriber.subscribe(to: [channel]) { messages in
                    #expect(try await publisher.publish("first", to: channel) == 1)
                    try await publisher.publish([0, 1, 2] as [UInt8], to: channel)
                    var iterator = messages.makeAsyncIterator()
                    let first = try #require(await iterator.next())
                    #expect(first.channel == channel && first.string == "first")
                    let second = try #require(await iterator.next())
                    #expect(Array(second.payload.readableBytesView) == [0, 1, 2])
                }
                // The body returned: the client unsubscribed, so nobody receives the next message.
                #expect(
                    try await TestRedis.eventually(within: .seconds(5)) {
                        (try? await publisher.publish("late", to: channel)) == 0
                    })
            }
        }
    }

    @Test func twoSubscriptionsOnOneChannelBothReceive() async throws {
        let channel = TestRedis.prefix("pubsub-two") + "events"
        try await TestRedis.withClient { client in
            try await client.subscribe(to: [channel]) { first in
                try await client.subscribe(to: [channel, channel + ":other"]) { second async throws in
                    // One server-side subscription serves both local ones.
                    #expect(try await client.publish("hi", to: channel) == 1)
                    var a = first.makeAsyncIterator()
                    var b = second.makeAsyncIterator()
                    #expect(await a.next()?.string == "hi")
                    #expect(await b.next()?.string == "hi")
                }
            }
        }
    }
}
