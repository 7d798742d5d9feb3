import Foundation
import Logging
import Testing
@testable import OrderdCore

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

    @Test func unexpectedErrorsAreA500ThatSaysNothingInternal() {
        struct Secret: Error { let path = "/var/lib/orderd/orderd.db" }
        let response = HTTPErrorMapper.response(for: Secret(), requestID: "r3", logger: logger)
        #expect(response.status == 500)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.contains("orderd.db") && !text.contains("Secret"))
        #expect(text.contains("\"request_id\":\"r3\""))
    }
}
