import Foundation
import Logging
import Testing
import OrderdOrders
// @testable: these tests read internals: OrderdStore (deadlinePassed, outcomeUnknown, unavailable); OrderdHTTP
//  (outcomeUnknown).
@testable import OrderdStore
@testable import OrderdHTTP

/// Errors to answers, in the one place that does it.
@Suite struct HTTPErrorMapperTests {
    let logger = Logger(label: "test")

    @Test func validationProblemsAreListedUpToALimit() throws {
        let problems = (0..<250).map { FieldProblem(field: "f\($0)", message: "is not a known field") }
        let response = HTTPErrorMapper.response(for: OrderBodyError.invalid(OrderValidationError(problems: problems)), requestID: "r1", logger: logger)
        #expect(response.status == 422)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let error = try #require(body["error"] as? [String: Any])
        let details = try #require(error["details"] as? [[String: Any]])
        #expect(details.count == APIError.maxDetails + 1)
        #expect(details.last?["message"] as? String == "and 150 more problems, not listed")
        #expect((error["message"] as? String)?.contains("250 problems") == true)
    }

    @Test func storeBusyIs503WithRetryAfter() {
        let response = HTTPErrorMapper.response(for: StoreError.deadlinePassed("test"), requestID: "r2", logger: logger)
        #expect(response.status == 503)
        #expect(response.headers.contains { $0.name == "Retry-After" && $0.value == "1" })
    }

    /// An unknown outcome is a 503 of its own: the client must not read it as "nothing was stored", and the
    /// message says how to settle it; the store's context (which may name the server) stays in the log.
    @Test func unknownOutcomeIsA503ThatAsksForARetryWithTheSameKey() throws {
        let error = StoreError.outcomeUnknown("insert an order: connection to 10.0.0.7 closed; lookup: timed out")
        let response = HTTPErrorMapper.response(for: error, requestID: "r4", logger: logger)
        #expect(response.status == 503)
        #expect(response.headers.contains { $0.name == "Retry-After" })
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let fields = try #require(body["error"] as? [String: Any])
        #expect(fields["code"] as? String == "outcome_unknown")
        let message = try #require(fields["message"] as? String)
        #expect(message.contains("same Idempotency-Key"))
        #expect(!message.contains("nothing was stored") && !message.contains("10.0.0.7"))
        #expect(error.code == .outcomeUnknown && !error.isConfinedToOneWrite)

        // Every other store failure that reaches a client as 503 says nothing was stored.
        for other in [StoreError.deadlinePassed("test"), StoreError.unavailable("test")] {
            let answer = HTTPErrorMapper.apiError(for: other, requestID: "r5", logger: logger)
            #expect(answer.status == 503 && answer.code == "unavailable" && answer.message.contains("nothing was stored"))
        }
    }

    @Test func unexpectedErrorsAreA500ThatSaysNothingInternal() {
        struct Secret: Error { let path = "/var/lib/orderd/orderd.db" }
        let response = HTTPErrorMapper.response(for: Secret(), requestID: "r3", logger: logger)
        #expect(response.status == 500)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.contains("orderd.db") && !text.contains("Secret"))
        #expect(text.contains("\"request_id\":\"r3\""))
    }
}
