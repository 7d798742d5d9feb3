import Foundation

/// What the FastCGI fuzzer sends straight to orderd's socket, one class at a time.
enum FastCGIFuzzClass: String, CaseIterable, Sendable {
    case truncatedHeaders = "truncated-headers"
    case wrongVersions = "wrong-versions"
    case wrongTypes = "wrong-types"
    case unknownRoles = "unknown-roles"
    case hugeLengths = "huge-lengths"
    case interleavedIDs = "interleaved-ids"
    case paramsWithoutStdin = "params-without-stdin"
    case abortRecords = "abort-records"
    case slowWriters = "slow-writers"
    case closedMidRecord = "closed-mid-record"
    case garbage = "garbage"
}

/// One connection's worth of bytes and what must come of it.
struct FastCGIFuzzCase: Sendable {
    enum Step: Sendable {
        case send([UInt8])
        /// A few bytes per write with a pause between writes.
        case sendSlowly([UInt8], chunk: Int, gap: Duration)
        case pause(Duration)
        /// Shut the write side: orderd reads EOF and may still answer.
        case halfClose
        /// Close the connection without reading anything.
        case close
    }

    enum Expect: Sendable, Equatable {
        /// An answer (STDOUT with `Status:`, then END_REQUEST) with one of these statuses.
        case status(Set<Int>)
        /// One of these statuses, or the connection closed without one (libfcgi refuses and closes).
        case statusOrClose(Set<Int>)
        /// Anything but a hang.
        case noHang
    }

    var index: Int
    var kind: FastCGIFuzzClass
    var variant: String
    var steps: [Step]
    var expect: Expect
    /// The request id whose answer counts.
    var requestID: UInt16 = 1

    /// Every byte sent, in order, for the replay line.
    var bytes: [UInt8] {
        steps.flatMap { step -> [UInt8] in
            switch step {
            case .send(let bytes), .sendSlowly(let bytes, _, _): return bytes
            default: return []
            }
        }
    }
}

/// Builds the FastCGI cases from `FuzzRandom(seed:index:)`; the class is `index % classes`, so every class gets
/// its share of any count.
///
/// libfcgi aborts the whole process (`fcgiapp.c` Malloc assertion) on a PARAMS pair whose name and value
/// lengths add up past `INT_MAX - 2`; those lengths are left to `libfcgiAbort` (the supervised test) and kept out
/// of every class here, where the process must stay up.
enum FastCGIFuzzGenerator {
    static func make(seed: UInt64, index: Int) -> FastCGIFuzzCase {
        var random = FuzzRandom(seed: seed, index: index)
        let kind = FastCGIFuzzClass.allCases[index % FastCGIFuzzClass.allCases.count]
        var made: FastCGIFuzzCase
        switch kind {
        case .truncatedHeaders: made = truncatedHeaders(&random)
        case .wrongVersions: made = wrongVersions(&random)
        case .wrongTypes: made = wrongTypes(&random)
        case .unknownRoles: made = unknownRoles(&random)
        case .hugeLengths: made = hugeLengths(&random)
        case .interleavedIDs: made = interleavedIDs(&random)
        case .paramsWithoutStdin: made = paramsWithoutStdin(&random)
        case .abortRecords: made = abortRecords(&random)
        case .slowWriters: made = slowWriters(&random)
        case .closedMidRecord: made = closedMidRecord(&random)
        case .garbage: made = garbage(&random)
        }
        made.index = index
        made.kind = kind
        return made
    }

    typealias Client = FastCGIClient

    static func requestID(_ random: inout FuzzRandom) -> String {
        String((0..<32).map { _ in random.pick(Array("0123456789abcdef")) })
    }

    static func healthParams(_ random: inout FuzzRandom) -> [(String, String)] {
        [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/healthz"), ("SERVER_PROTOCOL", "HTTP/1.1"), ("REQUEST_ID", requestID(&random))]
    }

    /// POST /orders params; the body sent with them decides the answer.
    static func postParams(_ random: inout FuzzRandom, contentLength: String) -> [(String, String)] {
        [("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/orders"), ("SERVER_PROTOCOL", "HTTP/1.1"),
         ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", contentLength), ("REQUEST_ID", requestID(&random)),
         ("HTTP_AUTHORIZATION", "Bearer \(TestKeys.all)")]
    }

    static let invalidBody = Array(#"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":["#.utf8)
    static let validOrder = Array(#"{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"FCGI-1","quantity":1,"unit_price_cents":100}],"note":"fcgi-fuzz"}"#.utf8)

    /// The end of a case that leaves the connection open: half-close and read (most), or just read and let
    /// orderd's read deadline (`server.request_timeout`) cut it.
    static func ending(_ random: inout FuzzRandom) -> [FastCGIFuzzCase.Step] {
        random.chance(0.85) ? [.halfClose] : []
    }

    static func truncatedHeaders(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let begin = Client.beginRequest(role: 1)
        let params = Client.paramsRecords(healthParams(&random))
        let cut = random.int(1...7)
        let bytes: [UInt8]
        let variant: String
        switch random.int(0..<3) {
        case 0: (bytes, variant) = (Array(begin.prefix(cut)), "begin")
        case 1: (bytes, variant) = (begin + Array(params.prefix(cut)), "params")
        default: (bytes, variant) = (begin + params + Array(Client.record(.stdin, []).prefix(cut)), "stdin")
        }
        // A GET's answer needs no STDIN, so a cut STDIN header may still get its 200.
        let expect: FastCGIFuzzCase.Expect = variant == "stdin" ? .statusOrClose([200]) : .statusOrClose([])
        return FastCGIFuzzCase(index: 0, kind: .truncatedHeaders, variant: variant,
                               steps: [.send(bytes)] + (random.chance(0.2) ? [.close] : ending(&random)), expect: expect)
    }

    static func wrongVersions(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let version = random.pick([0, 2, 3, 0x7F, 0x80, 0xFF] as [UInt8])
        switch random.int(0..<3) {
        case 0:
            return FastCGIFuzzCase(index: 0, kind: .wrongVersions, variant: "begin",
                                   steps: [.send(Client.beginRequest(role: 1, version: version) + Client.paramsRecords(healthParams(&random)))] + ending(&random),
                                   expect: .statusOrClose([]))
        case 1:
            let params = Client.nameValue(Array("REQUEST_METHOD".utf8), Array("GET".utf8))
            return FastCGIFuzzCase(index: 0, kind: .wrongVersions, variant: "params",
                                   steps: [.send(Client.beginRequest(role: 1) + Client.rawRecord(version: version, type: 4, params))] + ending(&random),
                                   expect: .statusOrClose([]))
        default:
            // STDIN of a POST with a bad version: orderd cannot read the body and answers 400.
            let body = invalidBody
            let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: String(body.count)))
                + Client.rawRecord(version: version, type: 5, body)
            return FastCGIFuzzCase(index: 0, kind: .wrongVersions, variant: "stdin", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([400, 408]))
        }
    }

    static func wrongTypes(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let health = Client.wholeRequest(healthParams(&random))
        switch random.int(0..<4) {
        case 0:
            // A record of another type where PARAMS belong: a protocol error, the connection is closed.
            let type = random.pick([0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 0x7F, 0xFF] as [UInt8])
            return FastCGIFuzzCase(index: 0, kind: .wrongTypes, variant: "in-params",
                                   steps: [.send(Client.beginRequest(role: 1) + Client.rawRecord(type: type, random.randomBytes(random.int(0...64))))] + ending(&random),
                                   expect: .statusOrClose([]))
        case 1:
            // Management records (request id 0) of unknown types before a whole request: libfcgi answers
            // FCGI_UNKNOWN_TYPE and goes on, the request gets its 200.
            var bytes: [UInt8] = []
            for _ in 0..<random.int(1...5) {
                bytes += Client.rawRecord(type: random.pick([0, 2, 3, 6, 7, 8, 10, 11, 12, 0x40, 0xFF] as [UInt8]), requestID: 0, random.randomBytes(random.int(0...32)))
            }
            return FastCGIFuzzCase(index: 0, kind: .wrongTypes, variant: "management", steps: [.send(bytes + health)] + ending(&random),
                                   expect: .statusOrClose([200]))
        case 2:
            // FCGI_GET_VALUES: up to 3 of the variables libfcgi answers (its reply is built in a 64-byte stack
            // buffer that 4 overflow: see libfcgiAbort) among any number of unknown names, lengths kept small.
            var pairs: [UInt8] = []
            var known = 0
            for _ in 0..<random.int(1...24) {
                var name = random.pick(["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "X", "FCGI_MAX_CONNS_AND_MORE", "fcgi_max_conns"])
                if name.hasPrefix("FCGI_M") && !name.hasSuffix("MORE") {
                    known += 1
                    if known > 3 { name = "FCGI_UNKNOWN" }
                }
                pairs += Client.nameValue(Array(name.utf8), random.chance(0.5) ? [] : Array("1".utf8))
            }
            return FastCGIFuzzCase(index: 0, kind: .wrongTypes, variant: "get-values",
                                   steps: [.send(Client.rawRecord(type: 9, requestID: 0, pairs) + health)] + ending(&random),
                                   expect: .statusOrClose([200]))
        default:
            // STDIN, STDOUT or END_REQUEST sent by the client in the middle of a request.
            let type = random.pick([3, 6, 7, 8] as [UInt8])
            let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: "10"))
                + Client.rawRecord(type: type, random.randomBytes(random.int(0...16)))
            return FastCGIFuzzCase(index: 0, kind: .wrongTypes, variant: "in-stdin", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([400, 408]))
        }
    }

    static func unknownRoles(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let params = Client.paramsRecords(healthParams(&random)) + Client.streamRecords(.stdin, [])
        switch random.int(0..<4) {
        case 0:
            let role = random.pick([0, 4, 5, 0x100, 0x7FFF, 0xFFFF, UInt16(random.int(4...0xFFFF))])
            return FastCGIFuzzCase(index: 0, kind: .unknownRoles, variant: "unknown",
                                   steps: [.send(Client.beginRequest(role: role, flags: UInt8(random.int(0...255))) + params)] + ending(&random),
                                   expect: .statusOrClose([]))
        case 1:
            // AUTHORIZER and FILTER are roles libfcgi knows; orderd answers them like a responder.
            let role = random.pick([Client.Role.authorizer, .filter]).rawValue
            return FastCGIFuzzCase(index: 0, kind: .unknownRoles, variant: "authorizer-filter",
                                   steps: [.send(Client.beginRequest(role: role) + params)] + ending(&random), expect: .status([200]))
        case 2:
            // BEGIN_REQUEST with a body that is not 8 bytes, or on request id 0.
            let length = random.pick([0, 1, 7, 9, 16, 255])
            return FastCGIFuzzCase(index: 0, kind: .unknownRoles, variant: "begin-length",
                                   steps: [.send(Client.beginRequest(role: 1, contentLength: length) + params)] + ending(&random),
                                   expect: .statusOrClose([]))
        default:
            return FastCGIFuzzCase(index: 0, kind: .unknownRoles, variant: "request-id-0",
                                   steps: [.send(Client.beginRequest(requestID: 0, role: 1) + params)] + ending(&random),
                                   expect: .statusOrClose([]))
        }
    }

    static func hugeLengths(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        switch random.int(0..<6) {
        case 0:
            // A record header announcing up to 64 KiB (and 255 bytes of padding) of which only some arrive.
            let announced = random.int(1...65535)
            // Content bytes under 0x80: no 4-byte pair lengths, which could add up to the abort.
            let sent = random.randomBytes(random.int(0...min(announced - 1, 512))).map { $0 & 0x7F }
            let bytes = Client.beginRequest(role: 1) + Client.header(type: 4, contentLength: announced, padding: random.int(0...255)) + sent
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: "record-length", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([]))
        case 1:
            // A PARAMS pair announcing a large name or value (up to 256 MiB, far from the abort) that never
            // arrives; 0x7FFFFFFF itself is refused by Debian's libfcgi before any allocation.
            let big = random.pick([random.int(128...65535), random.int(65536...0x0FFF_FFFF), 0x7FFF_FFFF])
            let pair = random.chance(0.5)
                ? Client.nameValue(Array("N".utf8), Array("v".utf8), nameLength: big)
                : Client.nameValue(Array("N".utf8), Array("v".utf8), valueLength: big)
            let bytes = Client.beginRequest(role: 1) + Client.record(.params, pair + random.randomBytes(random.int(0...64)).map { $0 & 0x7F })
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: "pair-length", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([]))
        case 2:
            // A pair whose 1-byte length is longer than the record: the read runs into the next record header.
            let pair = Client.nameValue(Array("REQUEST_METHOD".utf8), Array("GET".utf8), valueLength: random.int(4...127))
            let bytes = Client.beginRequest(role: 1) + Client.record(.params, pair) + Client.record(.params, []) + Client.streamRecords(.stdin, [])
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: "pair-overruns-record", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([200, 400, 404, 405]))
        case 3:
            // CONTENT_LENGTH that lies or is not a length: orderd's 400/411/413.
            let body = invalidBody
            let length = random.pick([
                "99999999999999999999", "-1", "65537", "1048576", "abc", "", "0", "1 0", "0x10",
                String(body.count + random.int(1...1000)), String(random.int(1..<body.count)),
            ])
            let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: length)) + Client.streamRecords(.stdin, body)
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: "content-length", steps: [.send(bytes)] + ending(&random),
                                   expect: .status([400, 408, 411, 413]))
        case 4:
            // Padding (up to 255 bytes) on every record of a whole request but BEGIN_REQUEST: answered 200.
            // libfcgi does not skip padding after BEGIN_REQUEST (SetReaderType resets it, and the padding is
            // read as the next header), so a padded BEGIN_REQUEST ends the connection without an answer.
            let padBegin = random.chance(0.25)
            let pad = padBegin ? random.int(1...255) : random.int(0...255)
            var bytes = Client.header(type: 1, contentLength: 8, padding: padBegin ? pad : 0) + [0, 1, 0, 0, 0, 0, 0, 0]
                + [UInt8](repeating: 0, count: padBegin ? pad : 0)
            let params = healthParams(&random).flatMap { Client.nameValue(Array($0.0.utf8), Array($0.1.utf8)) }
            bytes += Client.header(type: 4, contentLength: params.count, padding: pad) + params + [UInt8](repeating: 0xAA, count: pad)
            bytes += Client.header(type: 4, contentLength: 0, padding: pad) + [UInt8](repeating: 0, count: pad)
            bytes += Client.header(type: 5, contentLength: 0, padding: pad) + [UInt8](repeating: 0, count: pad)
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: padBegin ? "padded-begin" : "max-padding",
                                   steps: [.send(bytes)] + ending(&random), expect: padBegin ? .statusOrClose([]) : .status([200]))
        default:
            // Many or large params (a 1 MiB value over 17 records): accepted, answered 200.
            var pairs = healthParams(&random)
            if random.chance(0.5) {
                pairs.append(("HTTP_X_BIG", String(repeating: "b", count: random.int(60000...1_048_576))))
            } else {
                for n in 0..<random.int(100...3000) { pairs.append(("HTTP_X_\(n)", "v")) }
            }
            return FastCGIFuzzCase(index: 0, kind: .hugeLengths, variant: "many-params",
                                   steps: [.send(Client.wholeRequest(pairs))] + ending(&random), expect: .status([200]))
        }
    }

    static func interleavedIDs(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let id = UInt16(random.int(1...0xFFFF))
        let other = { (random: inout FuzzRandom) -> UInt16 in
            var value = UInt16(random.int(1...0xFFFF))
            if value == id { value = id &+ 1 == 0 ? 1 : id &+ 1 }
            return value
        }
        // Records for other request ids, each with content: libfcgi skips them (a second BEGIN_REQUEST gets
        // FCGI_END_REQUEST with FCGI_CANT_MPX_CONN). An EMPTY record for another id is different: libfcgi leaves its
        // skip flag set and drops the content of the next record of the real request (a lost param), so that
        // variant only promises no hang and no 5xx.
        let emptyNoise = random.chance(0.2)
        var noise: [[UInt8]] = []
        for _ in 0..<random.int(1...6) {
            let otherID = other(&random)
            switch random.int(0..<4) {
            case 0: noise.append(Client.record(.params, requestID: otherID, Client.nameValue(Array("REQUEST_URI".utf8), Array("/elsewhere".utf8))))
            case 1: noise.append(Client.record(.stdin, requestID: otherID, random.randomBytes(random.int(1...100))))
            case 2: noise.append(Client.record(.abortRequest, requestID: otherID, random.randomBytes(8)))
            default: noise.append(Client.beginRequest(requestID: otherID, keepConnection: random.chance(0.5)))  // FCGI_CANT_MPX_CONN
            }
            if emptyNoise { noise.append(Client.record(random.pick([.abortRequest, .params, .stdin]), requestID: otherID, [])) }
        }
        let post = random.chance(0.4)
        let params = post ? postParams(&random, contentLength: String(invalidBody.count)) : healthParams(&random)
        var stream = [Client.beginRequest(requestID: id)]
        stream += params.map { Client.record(.params, requestID: id, Client.nameValue(Array($0.0.utf8), Array($0.1.utf8))) }
        stream.append(Client.record(.params, requestID: id, []))
        if post { stream.append(Client.record(.stdin, requestID: id, invalidBody)) }
        stream.append(Client.record(.stdin, requestID: id, []))
        // Noise anywhere after BEGIN_REQUEST.
        for record in noise { stream.insert(record, at: random.int(1...stream.count)) }
        var made = FastCGIFuzzCase(index: 0, kind: .interleavedIDs, variant: (post ? "post" : "get") + (emptyNoise ? "-empty-other-id" : ""),
                                   steps: [.send(stream.flatMap { $0 })] + ending(&random), expect: emptyNoise ? .noHang : .status([post ? 400 : 200]))
        made.requestID = id
        return made
    }

    static func paramsWithoutStdin(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        if random.chance(0.3) {
            // A GET needs no body: answered without STDIN.
            return FastCGIFuzzCase(index: 0, kind: .paramsWithoutStdin, variant: "get",
                                   steps: [.send(Client.beginRequest(role: 1) + Client.paramsRecords(healthParams(&random)))] + ending(&random),
                                   expect: .status([200]))
        }
        // A POST announcing a body that never comes: 400 at EOF, 408 at the read deadline.
        let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: String(random.int(1...65536))))
        let partial = random.chance(0.3) ? Client.record(.stdin, random.randomBytes(random.int(1...200))) : []
        return FastCGIFuzzCase(index: 0, kind: .paramsWithoutStdin, variant: partial.isEmpty ? "post" : "post-partial",
                               steps: [.send(bytes + partial)] + ending(&random), expect: .status([400, 408]))
    }

    static func abortRecords(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let abort = Client.record(.abortRequest, [])
        switch random.int(0..<4) {
        case 0:
            // ABORT_REQUEST where a POST's STDIN belongs: the body cannot be read, 400.
            let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: "20"))
                + (random.chance(0.5) ? Client.record(.stdin, Array(invalidBody.prefix(10))) : []) + abort
            return FastCGIFuzzCase(index: 0, kind: .abortRecords, variant: "in-stdin", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([400, 408]))
        case 1:
            // In the middle of PARAMS: a protocol error, closed.
            let bytes = Client.beginRequest(role: 1) + Client.record(.params, Client.nameValue(Array("REQUEST_METHOD".utf8), Array("GET".utf8))) + abort
            return FastCGIFuzzCase(index: 0, kind: .abortRecords, variant: "in-params", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([]))
        case 2:
            // Before any BEGIN_REQUEST (skipped), then a whole GET.
            let bytes = abort + Client.wholeRequest(healthParams(&random))
            return FastCGIFuzzCase(index: 0, kind: .abortRecords, variant: "before-begin", steps: [.send(bytes)] + ending(&random),
                                   expect: .statusOrClose([200]))
        default:
            // After a whole GET: answered 200; the abort arrives too late to matter.
            let bytes = Client.wholeRequest(healthParams(&random)) + abort
            return FastCGIFuzzCase(index: 0, kind: .abortRecords, variant: "after-request", steps: [.send(bytes)] + ending(&random),
                                   expect: .status([200]))
        }
    }

    /// Slow writers: a whole request a byte or three at a time (well inside the read deadline, so the answer is
    /// the request's own), or a request that stalls past the deadline (408, or closed while still in PARAMS).
    static func slowWriters(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let post = random.chance(0.4)
        let bytes = post
            ? Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: String(invalidBody.count))) + Client.streamRecords(.stdin, invalidBody)
            : Client.wholeRequest(healthParams(&random))
        let status = post ? 400 : 200
        if random.chance(0.08) {
            let cut = random.int(1..<bytes.count)
            return FastCGIFuzzCase(index: 0, kind: .slowWriters, variant: "stall",
                                   steps: [.send(Array(bytes.prefix(cut))), .pause(FastCGIFuzzTests.requestTimeout + .milliseconds(300)), .send(Array(bytes.dropFirst(cut)))],
                                   expect: .statusOrClose([status, 408]))
        }
        return FastCGIFuzzCase(index: 0, kind: .slowWriters, variant: post ? "post" : "get",
                               steps: [.sendSlowly(bytes, chunk: random.int(1...3), gap: .microseconds(random.int(100...1500)))] + ending(&random),
                               expect: .statusOrClose([status, 408]))
    }

    /// A whole valid order cut anywhere before its end: never stored (the suite counts orders), and either
    /// closed on (EOF in PARAMS) or answered 400 (EOF in STDIN) when we only half-close.
    static func closedMidRecord(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        let bytes = Client.beginRequest(role: 1) + Client.paramsRecords(postParams(&random, contentLength: String(validOrder.count)))
            + Client.streamRecords(.stdin, validOrder)
        let cut = random.int(1..<bytes.count)
        let closes = random.chance(0.5)
        return FastCGIFuzzCase(index: 0, kind: .closedMidRecord, variant: closes ? "close" : "half-close",
                               steps: [.send(Array(bytes.prefix(cut))), closes ? .close : .halfClose], expect: .statusOrClose([400]))
    }

    static func garbage(_ random: inout FuzzRandom) -> FastCGIFuzzCase {
        if random.chance(0.5) {
            // Bytes below 0x80: random bytes can spell a header, a PARAMS record and a 4-byte pair length, which
            // is the abort below.
            let bytes = random.randomBytes(random.skewedLength(1, 8192)).map { $0 & 0x7F }
            return FastCGIFuzzCase(index: 0, kind: .garbage, variant: "bytes", steps: [.send(bytes)] + ending(&random), expect: .noHang)
        }
        // Records with valid headers and random everything else, lengths small enough that the content arrives.
        var bytes = Client.beginRequest(role: 1)
        for _ in 0..<random.int(1...8) {
            let type = random.pick([4, 4, 4, 5, 2, 9, UInt8(random.int(0...255))])
            // No byte with the high bit, in any record: a 4-byte pair length is the abort below, and libfcgi may
            // read the content of a record it does not handle (an unknown management type, seed
            // 0xc8681d8f3201ea74 case 978) as the next headers and pairs.
            let content = random.randomBytes(random.int(0...300)).map { $0 & 0x7F }
            bytes += Client.rawRecord(type: type, requestID: random.chance(0.8) ? 1 : UInt16(random.int(0...3)), content)
        }
        return FastCGIFuzzCase(index: 0, kind: .garbage, variant: "records", steps: [.send(bytes)] + ending(&random), expect: .noHang)
    }

    // MARK: - The abort libfcgi cannot survive

    /// What Debian's libfcgi 2.4.2-2+deb12u1 aborts the process on (verified against the built orderd):
    /// - PARAMS lengths: `Malloc(nameLen + valueLen + 2)` overflows `int` when the two add up to 0x7FFFFFFE or
    ///   more (each at most 0x7FFFFFFE; 0x7FFFFFFF is refused), and libfcgi's Malloc assertion calls abort().
    ///   Also in an FCGI_GET_VALUES record (request id 0) before any BEGIN_REQUEST.
    /// - FCGI_GET_VALUES asking for 4 or more of FCGI_MAX_CONNS / FCGI_MAX_REQS / FCGI_MPXS_CONNS: the reply is
    ///   written into a 64-byte stack buffer (17 bytes per variable), and glibc's stack protector aborts
    ///   ("*** stack smashing detected ***") when more bytes follow on the connection.
    static let libfcgiAbortKinds = 5

    /// Abort `kind` (0..<libfcgiAbortKinds), its details drawn from `random`.
    static func libfcgiAbort(_ random: inout FuzzRandom, kind: Int) -> (variant: String, bytes: [UInt8]) {
        let name = Array("N".utf8)
        switch kind % libfcgiAbortKinds {
        case 4:
            let count = random.int(4...24)
            let names = (0..<count).flatMap { _ in
                Client.nameValue(Array(random.pick(["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"]).utf8), [])
            }
            return ("FCGI_GET_VALUES asking for \(count) variables, then a request", Client.rawRecord(type: 9, requestID: 0, names)
                + Client.wholeRequest(FastCGIClient.httpParams(method: "GET", uri: "/healthz")))
        case 0:
            return ("name length 0x7FFFFFFE", Client.beginRequest(role: 1) + Client.record(.params, Client.nameValue(name, [], nameLength: 0x7FFF_FFFE)))
        case 1:
            return ("value length 0x7FFFFFFE", Client.beginRequest(role: 1) + Client.record(.params, Client.nameValue(name, [], valueLength: 0x7FFF_FFFE)))
        case 2:
            let first = random.int(0x3FFF_FFFF...0x7FFF_FFFE)
            let second = random.int((0x7FFF_FFFE - first)...0x7FFF_FFFE)
            return ("name+value lengths \(String(first, radix: 16))+\(String(second, radix: 16))",
                    Client.beginRequest(role: 1) + Client.record(.params, Client.nameValue(name, [], nameLength: first, valueLength: second, longForm: true)))
        default:
            return ("FCGI_GET_VALUES name length 0x7FFFFFFE", Client.rawRecord(type: 9, requestID: 0, Client.nameValue(name, [], nameLength: 0x7FFF_FFFE)))
        }
    }
}
