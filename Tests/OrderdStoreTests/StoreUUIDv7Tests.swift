import OrderdSupport
import Testing
import TestSupport
// @testable: these tests read internals: OrderdStore (UUIDv7Generator, lowerBound, max, millis).
@testable import OrderdStore

/// The order ids: format, version and variant bits, time order.
@Suite struct StoreUUIDv7Tests {
    @Test func canonicalFormWithVersionAndVariantBits() {
        var generator = UUIDv7Generator()
        let millis: Int64 = 0x0190_B3D6_1234
        for _ in 0..<1_000 {
            let (id, encoded) = generator.next(nowMillis: millis)
            let utf8 = Array(id.utf8)
            #expect(utf8.count == 36)
            for (index, byte) in utf8.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    #expect(byte == UInt8(ascii: "-"))
                } else {
                    #expect((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte))
                }
            }
            #expect(utf8[14] == UInt8(ascii: "7"))  // version 7
            #expect("89ab".utf8.contains(utf8[19]))  // variant 10xx
            #expect(id.hasPrefix("0190b3d6-1234-"))
            #expect(UUIDv7.millis(of: id) == encoded)
            #expect(UUIDv7.isCanonical(id))
        }
    }

    @Test func formatPlacesEveryField() {
        let id = UUIDv7Generator.format(millis: 0x0123_4567_89AB, randA: 0xCDE, randB: 0x3FFF_FFFF_FFFF_FFFF)
        #expect(id == "01234567-89ab-7cde-bfff-ffffffffffff")
        #expect(UUIDv7Generator.format(millis: 0, randA: 0, randB: 0) == "00000000-0000-7000-8000-000000000000")
    }

    @Test func strictlyIncreasingAcross10000IdsInOneMillisecond() {
        var generator = UUIDv7Generator()
        // 10 000 ids in "one" millisecond overflow the 12-bit counter: the generator borrows later milliseconds.
        let ids = (0..<10_000).map { _ in generator.next(nowMillis: 1_750_000_000_000) }
        for (earlier, later) in zip(ids, ids.dropFirst()) {
            #expect(earlier.id < later.id)
            #expect(earlier.millis <= later.millis)
        }
        #expect(Set(ids.map(\.id)).count == ids.count)
        #expect(ids.first?.millis == 1_750_000_000_000)
    }

    @Test func strictlyIncreasingWhenTheClockStepsBack() {
        var generator = UUIDv7Generator()
        let clock: [Int64] = [1_000, 1_001, 1_001, 999, 500, 1_001, 1_002, 1_002, 2_000, 1_500]
        let ids = clock.map { generator.next(nowMillis: $0) }
        for (earlier, later) in zip(ids, ids.dropFirst()) {
            #expect(earlier.id < later.id)
        }
        #expect(ids.map(\.millis) == [1_000, 1_001, 1_001, 1_001, 1_001, 1_001, 1_002, 1_002, 2_000, 2_000])
    }

    @Test func lowerBoundSeparatesMilliseconds() {
        // The purge's range bound: at or below every id of its millisecond, above every id of earlier ones.
        #expect(UUIDv7.lowerBound(millis: 0x0123_4567_89AB) == "01234567-89ab-7000-8000-000000000000")
        var generator = UUIDv7Generator()
        let millis: Int64 = 1_750_000_000_000
        let bound = UUIDv7.lowerBound(millis: millis)
        #expect(UUIDv7.millis(of: bound) == millis)
        for _ in 0..<1_000 {
            #expect(generator.next(nowMillis: millis - 1).id < bound)
        }
        for _ in 0..<1_000 {
            #expect(generator.next(nowMillis: millis).id >= bound)
        }
        #expect(UUIDv7.lowerBound(millis: millis - 1) < bound)
        #expect(UUIDv7Generator.format(millis: millis - 1, randA: 0xFFF, randB: .max) < bound)
    }

    @Test func rejectsWhatIsNotACanonicalUUIDv7() {
        #expect(UUIDv7.isCanonical("0190b3d6-1234-7abc-8def-0123456789ab"))
        for bad in [
            "0190B3D6-1234-7ABC-8DEF-0123456789AB",  // upper case
            "0190b3d6-1234-4abc-8def-0123456789ab",  // version 4
            "0190b3d6-1234-7abc-cdef-0123456789ab",  // variant 110
            "0190b3d612347abc8def0123456789ab",  // no dashes
            "0190b3d6-1234-7abc-8def-0123456789a",  // short
            "0190b3d6-1234-7abc-8def-0123456789abc",  // long
            "0190b3d6_1234-7abc-8def-0123456789ab",
            "0190b3d6-1234-7abc-8def-0123456789ag",
            "",
        ] {
            #expect(!UUIDv7.isCanonical(bad), "\(bad)")
        }
    }
}
