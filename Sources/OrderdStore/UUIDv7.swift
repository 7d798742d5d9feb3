import OrderdSupport

/// Makes UUIDv7 ids (RFC 9562): a 48-bit Unix millisecond timestamp, the version and variant bits, and random
/// bits from `SystemRandomNumberGenerator`, written in canonical lower-case 8-4-4-4-12 form.
///
/// Ids from one generator are strictly increasing, so they sort by creation time: within one millisecond the
/// 12-bit `rand_a` field is a counter that starts at a random value below 0x800 and counts up (RFC 9562
/// "method 1"); if it runs out, the generator borrows the next millisecond. A clock that steps back is
/// ignored until it catches up. The 62 bits of `rand_b` are fresh random bits in every id, so ids stay
/// unguessable. Not thread-safe: the writer thread owns the store's generator.
struct UUIDv7Generator {
    private var lastMillis: Int64 = .min
    private var counter: UInt16 = 0
    private var random = SystemRandomNumberGenerator()

    /// The next id and the millisecond encoded in it (≥ `nowMillis` and ≥ every earlier one).
    mutating func next(nowMillis: Int64) -> (id: String, millis: Int64) {
        var millis = nowMillis
        if millis > lastMillis {
            counter = UInt16.random(in: 0..<0x800, using: &random)
        } else {
            millis = lastMillis
            if counter < 0xFFF {
                counter += 1
            } else {
                millis += 1
                counter = UInt16.random(in: 0..<0x800, using: &random)
            }
        }
        lastMillis = millis
        return (UUIDv7Generator.format(millis: millis, randA: counter, randB: random.next()), millis)
    }

    /// The canonical text of the UUIDv7 with these fields; only the low 48 bits of `millis`, 12 of `randA`
    /// and 62 of `randB` are used.
    static func format(millis: Int64, randA: UInt16, randB: UInt64) -> String {
        let high = UInt64(UInt64(bitPattern: millis) & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | UInt64(randA & 0x0FFF)
        let low = randB & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[position] = digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high >> 32, nibbles: 8)
            dash()
            put(high >> 16, nibbles: 4)
            dash()
            put(high, nibbles: 4)
            dash()
            put(low >> 48, nibbles: 4)
            dash()
            put(low, nibbles: 12)
            return position
        }
    }

}

/// UUIDv7 ids as the store makes them (see `UUIDv7Generator`).
package enum UUIDv7 {
    /// Whether `id` is a UUIDv7 in canonical form: lower-case 8-4-4-4-12 hex, version 7, variant `10`.
    /// Anything else cannot name a stored order.
    package static func isCanonical(_ id: String) -> Bool { millis(of: id) != nil }

    /// The smallest UUIDv7 of millisecond `millis` (counter and random bits zero), in canonical form. Canonical
    /// ids compare as text like the numbers they spell, so every id of an earlier millisecond sorts below it
    /// and every id of this or a later millisecond at or above it: a bound for a range of creation times.
    static func lowerBound(millis: Int64) -> String {
        UUIDv7Generator.format(millis: millis, randA: 0, randB: 0)
    }

    /// The millisecond timestamp of a canonical UUIDv7, or nil when `id` is not one.
    static func millis(of id: String) -> Int64? {
        let utf8 = Array(id.utf8)
        guard utf8.count == 36 else { return nil }
        var value: Int64 = 0
        var hexCount = 0
        for (index, byte) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            if hexCount < 12 { value = value << 4 | Int64(nibble) }
            if hexCount == 12, nibble != 7 { return nil }  // version
            if hexCount == 16, nibble & 0xC != 0x8 { return nil }  // variant 10xx
            hexCount += 1
        }
        return value
    }
}
