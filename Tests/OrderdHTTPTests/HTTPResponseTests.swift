import Testing

// @testable: these tests read internals: OrderdHTTP (HTTPResponse.serialized).
@testable import OrderdHTTP

/// The CGI header block libfcgi sends on to nginx: status line, headers in order, the request id, the length.
@Suite struct HTTPResponseTests {
    @Test func theHeaderBlockPrecedesTheBodyByteForByte() {
        let body = Array(#"{"id":"o1","status":"created"}"#.utf8)
        let response = HTTPResponse.json(201, body, headers: [("Location", "/orders/o1")])
        let expected = "Status: 201 Created\r\nContent-Type: application/json\r\nLocation: /orders/o1\r\n"
            + "X-Request-Id: req-7\r\nContent-Length: \(body.count)\r\n\r\n" + #"{"id":"o1","status":"created"}"#
        #expect(String(decoding: response.serialized(requestID: "req-7"), as: UTF8.self) == expected)
    }

    @Test func anUnlistedStatusStillGetsAReasonAndAnEmptyBodyAZeroLength() {
        let response = HTTPResponse(status: 299, headers: [], body: [])
        #expect(String(decoding: response.serialized(requestID: "r"), as: UTF8.self)
            == "Status: 299 Status 299\r\nX-Request-Id: r\r\nContent-Length: 0\r\n\r\n")
    }
}
