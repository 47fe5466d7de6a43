import Foundation

/// Where botd keeps what must outlive it: the updates Telegram delivered (once each, by
/// `update_id`), the replies waiting to be sent, and the queued tasks whose results go to a chat.
/// PostgreSQL in a running botd (``PostgresUpdateStore``), shared by its instances; in memory in
/// the tests of its rules. `UpdateStoreContractTests` runs the same bodies over both.
protocol UpdateStore: Sendable {
    /// Stores an update; false when one with this id is stored already (a redelivery).
    func accept(updateID: Int64, chatID: Int64, body: String) async throws -> Bool
    /// Up to `limit` updates to handle now, each leased to `holder` for `lease`: in each chat only
    /// the oldest not yet handled, and none another live holder has.
    func claim(holder: UUID, lease: Duration, limit: Int) async throws -> [StoredUpdate]
    /// Marks the update handled and queues its replies and its task, in one step; false when the
    /// lease was lost (another holder took the update over: nothing is written).
    func finish(_ update: StoredUpdate, holder: UUID, replies: [OutgoingMessage], task: PendingTask?) async throws -> Bool
    /// Extends the holder's lease on the update while it is being handled; false when it was lost.
    func renew(_ update: StoredUpdate, holder: UUID, lease: Duration) async throws -> Bool
    /// Hands the update back, unhandled, for any holder to take at once.
    func release(_ update: StoredUpdate, holder: UUID) async throws
    /// Hands back every update `holder` holds: what a botd that restarts under the same identity
    /// held when it stopped (a crash included) is taken again at once, not when its lease runs out.
    func releaseAll(holder: UUID) async throws
    /// Forgets updates handled before `before`, and tasks asked for before it; returns how many updates.
    func prune(handledBefore before: Date) async throws -> Int

    /// Whether `holder` is (now, for `lease` more) the one sender.
    func holdSenderLease(holder: UUID, lease: Duration) async throws -> Bool
    /// Gives the sender lease up, if `holder` has it: the other instance sends at once.
    func releaseSenderLease(holder: UUID) async throws
    /// The oldest waiting reply of each chat (a chat's later ones wait behind it), up to `limit`
    /// chats, oldest first: a chat held back never hides another's.
    func waitingMessages(limit: Int) async throws -> [QueuedMessage]
    /// A reply sent (or refused for good by Telegram): it goes.
    func remove(messageID: Int64) async throws

    /// The chat waiting for this task, if any.
    func pendingTask(_ taskID: String) async throws -> PendingTask?
    /// The task ended: its replies are queued and it is forgotten, in one step; false when it was
    /// not pending (ended before: a redelivered event), and then nothing is queued.
    func endTask(_ taskID: String, replies: [OutgoingMessage]) async throws -> Bool
}

/// An update as stored.
struct StoredUpdate: Sendable, Equatable {
    let updateID: Int64
    let chatID: Int64
    let body: String
    /// How many times a handler took it, this time included.
    var attempts: Int
}

/// A reply to send.
struct OutgoingMessage: Sendable, Equatable {
    let chat: TelegramUpdate.Chat
    let text: String
}

/// A reply waiting, in its queue order.
struct QueuedMessage: Sendable, Equatable {
    let id: Int64
    let chat: TelegramUpdate.Chat
    let text: String
}

/// A queued generation a chat waits for.
struct PendingTask: Sendable, Equatable {
    let taskID: String
    let chat: TelegramUpdate.Chat
    let sender: TelegramUpdate.Sender
    let language: BotLanguage
}
