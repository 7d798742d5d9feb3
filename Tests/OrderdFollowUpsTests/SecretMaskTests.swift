import Testing
import TestSupport
import OrderdSupport
// @testable: these tests read internals: OrderdFollowUps (describe, hostPart).
@testable import OrderdFollowUps

/// `SecretMask`: how URLs look wherever orderd shows them.
@Suite struct SecretMaskTests {
    @Test(arguments: [
        ("https://gw.example/send?token=abc", "https://gw.example/send?token=***"),
        ("https://gw.example:8443/a/b?x=1&y=2&flag", "https://gw.example:8443/a/b?x=***&y=***&flag"),
        ("https://user:pw@gw.example/send", "https://user:***@gw.example/send"),
        ("https://APIKEY@gw.example/send", "https://***@gw.example/send"),
        ("postgres://orderd:pw@[::1]:5432/db?sslmode=verify-full", "postgres://orderd:***@[::1]:5432/db?sslmode=***"),
        ("postgres://orderd@127.0.0.1/orderd", "postgres://orderd@127.0.0.1/orderd"),
        ("http://127.0.0.1:9000/sms#frag=x", "http://127.0.0.1:9000/sms"),
        ("http://h/p?", "http://h/p?"),
        ("", ""),
        ("not a url", "not a url"),
        ("user:pw@host", "***"),
    ])
    func masksUserinfoAndQueryValues(_ url: String, _ expected: String) {
        #expect(SecretMask.url(url) == expected)
    }

    @Test func masksURLsInsideText() {
        let text = #"HTTP client error: invalid URL "https://gw.example/send?token=s3cret" (connect to https://a:b@h:1/x?k=v), done"#
        #expect(SecretMask.urls(in: text) == #"HTTP client error: invalid URL "https://gw.example/send?token=***" (connect to https://a:***@h:1/x?k=***), done"#)
        #expect(SecretMask.urls(in: "no url here") == "no url here")
    }

    @Test func httpPosterErrorsNeverCarryAQueryToken() {
        #expect(HTTPPoster.hostPart("https://gw.example/send?token=s3cret") == "https://gw.example")
        struct Failure: Error, CustomStringConvertible { var description: String }
        let described = HTTPPoster.describe(Failure(description: "refused by https://gw.example/send?token=s3cret"))
        #expect(!described.contains("s3cret"))
    }
}
