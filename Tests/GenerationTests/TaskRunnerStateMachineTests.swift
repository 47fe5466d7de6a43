import Foundation
import Testing

@testable import Generation

/// The rules of one task delivery as sequences of events and the actions they call for, with no
/// server and no wait: which deliveries run the engine, which only end a reservation again, how
/// long a retry and a held task wait, and which outcome settles the message.
@Suite struct TaskRunnerStateMachineTests {
    typealias Machine = TaskRunner.StateMachine

    static let template = PromptTemplate(function: "summary", version: 1, system: "s", instruction: "i")

    static func task(_ status: GenerationRecord.Status, failure: String? = nil) -> GenerationRecord {
        GenerationRecord(
            id: "0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11", userID: "9c4e2f5a-6f0e-4a59-9d43-0f0c3f1f1e11", function: "summary", topic: "Tides",
            language: "en", maxTokens: 256, templateVersion: 1, mode: "queued", reservation: "generation:0f8a3c1e", status: status, engine: nil,
            result: nil, failure: failure, requestID: "req-1", createdMicros: 0, finishedMicros: nil)
    }

    static let timeout = EngineError(code: "engine_timeout", message: "slow", retryable: true)
    static let refused = EngineError(code: "engine_refused", message: "no", retryable: false)

    static func outcome(_ ending: EngineOutcome.Ending, text: String = "") -> EngineOutcome {
        EngineOutcome(ending: ending, text: text, engine: "model")
    }

    /// A machine that has read `task` and its template, and asks to claim it.
    static func claiming(_ task: GenerationRecord) -> Machine {
        var machine = Machine(maxAttempts: 3, backoff: .seconds(1))
        _ = machine.received(taskID: task.id)
        _ = machine.taskRead(task)
        _ = machine.templateRead(template)
        return machine
    }

    /// A machine brought to the end of attempt `attempt`'s engine call with `outcome`, each action
    /// on the way checked.
    static func ranEngine(_ outcome: EngineOutcome, attempt: Int = 1, maxAttempts: Int = 3) -> Machine {
        var machine = Machine(maxAttempts: maxAttempts, backoff: .seconds(1))
        let task = task(.queued)
        #expect(machine.received(taskID: task.id) == .readTask(after: nil))
        #expect(machine.taskRead(task) == .readTemplate(task))
        #expect(machine.templateRead(template) == .claim(task, template))
        #expect(machine.claimed(.claimed(attempt: attempt, waited: .zero)) == .runEngine(task, template, attempt: attempt, cacheLookup: attempt == 1))
        #expect(machine.requestID == "req-1")
        #expect(machine.engineEnded(.ended(outcome)) == .renewLease(task))
        return machine
    }

    @Test func aMessageNamingNoTaskOrAMissingOneIsRejectedToTheDeadLetterQueue() {
        var poison = Machine(maxAttempts: 3, backoff: .seconds(1))
        #expect(poison.received(taskID: nil) == .settle(.reject))

        var missing = Machine(maxAttempts: 3, backoff: .seconds(1))
        #expect(missing.received(taskID: "0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11") == .readTask(after: nil))
        #expect(missing.taskRead(nil) == .settle(.reject))
    }

    @Test func aSucceededCallIsRecordedAfterTheLeaseIsRenewedThenSettled() {
        var machine = Self.ranEngine(Self.outcome(.succeeded, text: "Tides rise."))
        #expect(machine.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .succeeded(Self.outcome(.succeeded, text: "Tides rise."))))
        #expect(machine.stepDone() == .settle(.done))
    }

    @Test func onlyAFirstAttemptMayBeAnsweredFromTheCache() {
        let task = Self.task(.running)
        var machine = Self.claiming(task)
        #expect(machine.claimed(.claimed(attempt: 2, waited: .zero)) == .runEngine(task, Self.template, attempt: 2, cacheLookup: false))
    }

    @Test func aTaskEndedBeforeItsDeliveryOnlyHasItsReservationEndedAgain() {
        for status in [GenerationRecord.Status.succeeded, .canceled] {
            var machine = Machine(maxAttempts: 3, backoff: .seconds(1))
            _ = machine.received(taskID: Self.task(status).id)
            #expect(machine.taskRead(Self.task(status)) == .endAgain(Self.task(status), deadLetter: nil))
            #expect(machine.stepDone() == .settle(.done))
        }
        // A failed one's id goes to generate.dead again, in case that publish was what failed.
        var failed = Machine(maxAttempts: 3, backoff: .seconds(1))
        _ = failed.received(taskID: Self.task(.failed).id)
        let task = Self.task(.failed, failure: "engine_refused")
        #expect(failed.taskRead(task) == .endAgain(task, deadLetter: "engine_refused"))
    }

    @Test func aMissingTemplateFailsTheTaskForGood() {
        var machine = Machine(maxAttempts: 3, backoff: .seconds(1))
        let task = Self.task(.queued)
        _ = machine.received(taskID: task.id)
        _ = machine.taskRead(task)
        guard case .fail(let failed, let error) = machine.templateRead(nil) else {
            Issue.record("a missing template does not fail the task")
            return
        }
        #expect(failed == task)
        #expect(error.code == "template_missing" && !error.retryable)
        #expect(machine.stepDone() == .settle(.done))
    }

    @Test func aTaskAnotherDeliveryHoldsIsReadAgainWithinASecondAndNeverRunTwice() {
        let task = Self.task(.running)
        var machine = Self.claiming(task)
        #expect(machine.claimed(.held(for: .seconds(30))) == .readTask(after: .seconds(1)))
        // The holder's lease is nearly out: look again soon, but not in a busy loop.
        _ = machine.taskRead(task)
        _ = machine.templateRead(Self.template)
        #expect(machine.claimed(.held(for: .milliseconds(5))) == .readTask(after: .milliseconds(100)))
        _ = machine.taskRead(task)
        _ = machine.templateRead(Self.template)
        #expect(machine.claimed(.held(for: .milliseconds(400))) == .readTask(after: .milliseconds(400)))
        // The holder finished it meanwhile: only the reservation's ending is done again.
        let ended = Self.task(.succeeded)
        #expect(machine.taskRead(ended) == .endAgain(ended, deadLetter: nil))
    }

    @Test func aTaskCanceledWhileWaitingForASlotIsLookedAtAgain() {
        let task = Self.task(.queued)
        var machine = Self.claiming(task)
        #expect(machine.claimed(.ended) == .readTask(after: nil))
        let canceled = Self.task(.canceled)
        #expect(machine.taskRead(canceled) == .endAgain(canceled, deadLetter: nil))
    }

    @Test func retryableFailuresWaitTheBackoffDoublingThenFailForGoodAtTheLastAttempt() {
        let failure = Self.outcome(.failed(Self.timeout))
        for (attempt, wait) in [(1, Duration.seconds(1)), (2, .seconds(2)), (3, .seconds(4))] {
            var machine = Self.ranEngine(failure, attempt: attempt, maxAttempts: 4)
            #expect(machine.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .retry(Self.timeout, after: wait)))
        }
        var last = Self.ranEngine(failure, attempt: 4, maxAttempts: 4)
        #expect(last.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .failed(Self.timeout, engine: "model")))
        // The backoff is capped at a minute, however many attempts are allowed.
        var late = Self.ranEngine(failure, attempt: 9, maxAttempts: 20)
        #expect(late.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .retry(Self.timeout, after: .seconds(60))))
    }

    @Test func anEnginesRetryAfterLongerThanTheBackoffIsWaited() {
        let throttled = EngineError(code: "engine_throttled", message: "429", retryable: true, retryAfter: .seconds(30))
        var machine = Self.ranEngine(Self.outcome(.failed(throttled)))
        #expect(machine.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .retry(throttled, after: .seconds(30))))
    }

    @Test func aFailureThatCannotSucceedAgainFailsAtTheFirstAttempt() {
        var machine = Self.ranEngine(Self.outcome(.failed(Self.refused)))
        #expect(machine.leaseRenewed(status: .running, held: true) == .record(Self.task(.queued), .failed(Self.refused, engine: "model")))
    }

    @Test func aLeaseLostDuringOrAfterTheCallDropsTheOutcomeAndLetsTheMessageGo() {
        var during = Self.claiming(Self.task(.queued))
        _ = during.claimed(.claimed(attempt: 1, waited: .zero))
        #expect(during.engineEnded(.lost) == .settle(.done))

        var after = Self.ranEngine(Self.outcome(.succeeded, text: "Tides rise."))
        #expect(after.leaseRenewed(status: .running, held: false) == .settle(.done))
    }

    @Test func theLeaseCheckStopsTheEngineOnACancelOrALostLease() {
        #expect(Machine.leaseChecked(status: .running, held: true) == .keepRunning)
        #expect(Machine.leaseChecked(status: .canceled, held: true) == .canceled)
        #expect(Machine.leaseChecked(status: .canceled, held: false) == .canceled)
        #expect(Machine.leaseChecked(status: .running, held: false) == .lost)
        // Ended by another delivery (a takeover that finished): this call's work is not recorded.
        #expect(Machine.leaseChecked(status: .succeeded, held: false) == .lost)
        #expect(Machine.leaseChecked(status: .queued, held: false) == .lost)
    }

    @Test func aCanceledOutcomeIsRecordedAsCanceledOrAShutdownHandsTheMessageBack() {
        let canceled = Self.outcome(.canceled, text: "Tides")
        var byUser = Self.ranEngine(canceled)
        #expect(byUser.leaseRenewed(status: .canceled, held: false) == .record(Self.task(.queued), .canceled(canceled)))
        #expect(byUser.stepDone() == .settle(.done))

        var byShutdown = Self.ranEngine(canceled)
        _ = byShutdown.leaseRenewed(status: .running, held: true)
        #expect(byShutdown.shutDown() == .settle(.retryLater))
    }

    @Test func aShutdownDuringTheCallHandsTheMessageBackWithTheTaskAsItIs() {
        let task = Self.task(.queued)
        var machine = Self.claiming(task)
        _ = machine.claimed(.claimed(attempt: 1, waited: .zero))
        #expect(machine.engineEnded(.shutDown) == .settle(.retryLater))
    }

    @Test func aBackendAwayBeforeTheCallIsWaitedForFrom200msDoublingTo5sThenTheTaskIsReadAgain() {
        var machine = Machine(maxAttempts: 3, backoff: .seconds(1))
        let task = Self.task(.queued)
        _ = machine.received(taskID: task.id)
        _ = machine.taskRead(task)
        var waits: [Duration] = []
        for _ in 0..<7 {
            guard case .pause(let wait) = machine.stepFailed(shuttingDown: false) else {
                Issue.record("a failed step is not waited on")
                return
            }
            waits.append(wait)
            #expect(machine.paused(shuttingDown: false) == .readTask(after: nil))
        }
        #expect(waits == [.milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .seconds(5), .seconds(5)])
    }

    @Test func anOutcomeWhoseRecordingFailsIsKeptAndRecordedAgainNeverRunTwice() {
        let outcome = Self.outcome(.succeeded, text: "Tides rise.")
        var machine = Self.ranEngine(outcome)
        let recording = Machine.Action.record(Self.task(.queued), .succeeded(outcome))
        #expect(machine.leaseRenewed(status: .running, held: true) == recording)
        // subscribed away while the unit is settled: wait, renew the lease again, record again.
        #expect(machine.stepFailed(shuttingDown: false) == .pause(.milliseconds(200)))
        #expect(machine.paused(shuttingDown: false) == .renewLease(Self.task(.queued)))
        #expect(machine.leaseRenewed(status: .running, held: true) == recording)
        #expect(machine.stepFailed(shuttingDown: false) == .pause(.milliseconds(400)))
        #expect(machine.paused(shuttingDown: false) == .renewLease(Self.task(.queued)))
        #expect(machine.leaseRenewed(status: .running, held: true) == recording)
        #expect(machine.stepDone() == .settle(.done))
    }

    @Test func theWaitStartsAgainAt200msOnceTheEngineHasRun() {
        var machine = Machine(maxAttempts: 3, backoff: .seconds(1))
        let task = Self.task(.queued)
        _ = machine.received(taskID: task.id)
        for _ in 0..<3 {
            _ = machine.stepFailed(shuttingDown: false)
            _ = machine.paused(shuttingDown: false)
        }
        _ = machine.taskRead(task)
        _ = machine.templateRead(Self.template)
        _ = machine.claimed(.claimed(attempt: 1, waited: .zero))
        _ = machine.engineEnded(.ended(Self.outcome(.succeeded, text: "x")))
        #expect(machine.stepFailed(shuttingDown: false) == .pause(.milliseconds(200)))
    }

    @Test func aShutdownDuringAPauseHandsBackAMessageWithNoOutcomeButRecordsAnOutcomeInHandOnceMore() {
        var before = Machine(maxAttempts: 3, backoff: .seconds(1))
        _ = before.received(taskID: Self.task(.queued).id)
        _ = before.stepFailed(shuttingDown: false)
        #expect(before.paused(shuttingDown: true) == .settle(.retryLater))

        var after = Self.ranEngine(Self.outcome(.succeeded, text: "x"))
        _ = after.stepFailed(shuttingDown: false)
        #expect(after.paused(shuttingDown: true) == .renewLease(Self.task(.queued)))
    }

    @Test func theRequestIDStaysWithTheDeliveryAfterTheTaskEndedOrWentBackToReading() {
        var ended = Machine(maxAttempts: 3, backoff: .seconds(1))
        _ = ended.received(taskID: Self.task(.succeeded).id)
        _ = ended.taskRead(Self.task(.succeeded))
        #expect(ended.requestID == "req-1")
        var held = Self.claiming(Self.task(.running))
        _ = held.claimed(.held(for: .seconds(5)))
        #expect(held.requestID == "req-1")
    }

    @Test func aStepThatFailsWhileShuttingDownHandsTheMessageBack() {
        var machine = Self.ranEngine(Self.outcome(.succeeded, text: "x"))
        #expect(machine.stepFailed(shuttingDown: true) == .settle(.retryLater))
    }
}
