import Glibc
import Testing

import OrderdFastCGI

/// The param block libfcgi leaves in `FCGX_Request.envp`, built by hand: what `param(_:)` and `paramCount(_:)`
/// of a real exchange answer for it.
@Suite struct FastCGIParamsTests {
    /// `entries` as libfcgi lays them out (`NAME=value` C strings, then a null pointer), alive for `body`.
    private func withParams<T>(_ entries: [[UInt8]], _ body: (FastCGIParams) -> T) -> T {
        var block: [UnsafeMutablePointer<CChar>?] = entries.map { bytes in
            let entry = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { entry[index] = CChar(bitPattern: byte) }
            entry[bytes.count] = 0
            return entry
        }
        block.append(nil)
        defer { for entry in block { entry?.deallocate() } }
        return block.withUnsafeMutableBufferPointer { body(FastCGIParams(envp: $0.baseAddress)) }
    }

    private func withParams<T>(_ entries: [String], _ body: (FastCGIParams) -> T) -> T {
        // strdup, as libfcgi's own block is malloc'ed C strings.
        var block: [UnsafeMutablePointer<CChar>?] = entries.map { strdup($0) }
        block.append(nil)
        defer { for entry in block { free(entry) } }
        return block.withUnsafeMutableBufferPointer { body(FastCGIParams(envp: $0.baseAddress)) }
    }

    @Test func aPresentNameGivesItsValueAndAMissingOneNil() {
        withParams(["REQUEST_METHOD=POST", "REQUEST_URI=/orders", "CONTENT_LENGTH=12"]) { params in
            #expect(params.value("REQUEST_METHOD") == "POST")
            #expect(params.value("REQUEST_URI") == "/orders")
            #expect(params.value("CONTENT_LENGTH") == "12")
            #expect(params.value("CONTENT_TYPE") == nil)
            #expect(params.count("CONTENT_TYPE") == 0)
            #expect(params.count("REQUEST_METHOD") == 1)
        }
    }

    /// nginx passes `CONTENT_TYPE=` for a request without the header: present and empty, not absent (the edge
    /// tells the two apart by itself, `RequestBodyRules`).
    @Test func anEmptyValueIsPresentAndEmpty() {
        withParams(["CONTENT_TYPE=", "HTTP_AUTHORIZATION="]) { params in
            #expect(params.value("CONTENT_TYPE") == "")
            #expect(params.count("CONTENT_TYPE") == 1)
            #expect(params.value("HTTP_AUTHORIZATION") == "")
        }
    }

    /// The value is everything after the first `=`: a query string or a Basic credential keeps its own.
    @Test func aValueMayContainEqualsSigns() {
        withParams(["QUERY_STRING=a=1&b==2", "HTTP_AUTHORIZATION=Basic b2RfbGl2ZV94Og=="]) { params in
            #expect(params.value("QUERY_STRING") == "a=1&b==2")
            #expect(params.value("HTTP_AUTHORIZATION") == "Basic b2RfbGl2ZV94Og==")
        }
    }

    /// A name only matches when `=` follows it: `HTTP_X` is not found in `HTTP_X_Y=…`, and the other way round.
    @Test func aNameThatIsAPrefixOfAnotherMatchesOnlyItself() {
        withParams(["HTTP_X_Y=long", "HTTP_X=short", "HTTP_X_Y=again"]) { params in
            #expect(params.value("HTTP_X") == "short")
            #expect(params.count("HTTP_X") == 1)
            #expect(params.value("HTTP_X_Y") == "long")
            #expect(params.count("HTTP_X_Y") == 2)
            #expect(params.value("HTTP_") == nil)
            #expect(params.count("HTTP_") == 0)
            #expect(params.value("HTTP_X_Y_Z") == nil)
        }
        withParams(["HTTP_X_Y=only the longer one"]) { params in
            #expect(params.value("HTTP_X") == nil)
            #expect(params.count("HTTP_X") == 0)
        }
    }

    /// A header sent twice arrives as two params: the value is the first, the count says there were two (the
    /// edge refuses a repeated `Idempotency-Key` on that count).
    @Test func repeatedNamesAreCountedAndTheFirstValueWins() {
        withParams(["HTTP_IDEMPOTENCY_KEY=first", "REQUEST_METHOD=POST", "HTTP_IDEMPOTENCY_KEY=second", "HTTP_IDEMPOTENCY_KEY=first"]) { params in
            #expect(params.value("HTTP_IDEMPOTENCY_KEY") == "first")
            #expect(params.count("HTTP_IDEMPOTENCY_KEY") == 3)
        }
    }

    /// Names are matched byte for byte: case matters (nginx upper-cases `HTTP_*` names itself).
    @Test func namesAreCaseSensitive() {
        withParams(["http_x=lower"]) { params in
            #expect(params.value("HTTP_X") == nil)
            #expect(params.count("HTTP_X") == 0)
            #expect(params.value("http_x") == "lower")
        }
    }

    /// Bytes that are not UTF-8 (a Latin-1 header value) are not refused: each invalid sequence becomes
    /// U+FFFD in the copied value, the valid bytes around it stay, and the count still sees the entry.
    @Test func nonUTF8BytesAreRepairedWithReplacementCharacters() {
        let latin1 = Array("HTTP_X_NAME=caf".utf8) + [0xE9] + Array("!".utf8)
        let lone = Array("HTTP_X_BYTES=".utf8) + [0xFF, 0xFE]
        withParams([latin1, lone]) { params in
            #expect(params.value("HTTP_X_NAME") == "caf\u{FFFD}!")
            #expect(params.value("HTTP_X_BYTES") == "\u{FFFD}\u{FFFD}")
            #expect(params.count("HTTP_X_NAME") == 1)
        }
    }

    /// An entry without `=` (libfcgi never makes one, but a block is just bytes) names nothing.
    @Test func anEntryWithoutEqualsSignMatchesNothing() {
        withParams(["HTTP_X", "HTTP_X=after"]) { params in
            #expect(params.value("HTTP_X") == "after")
            #expect(params.count("HTTP_X") == 1)
        }
    }

    /// A request without params (`envp` null, or only the terminator) answers nil and zero, never crashes.
    @Test func anEmptyOrMissingBlockHasNoParams() {
        withParams([String]()) { params in
            #expect(params.value("REQUEST_METHOD") == nil)
            #expect(params.count("REQUEST_METHOD") == 0)
        }
        let none = FastCGIParams(envp: nil)
        #expect(none.value("REQUEST_METHOD") == nil)
        #expect(none.count("REQUEST_METHOD") == 0)
    }
}
