import Foundation

/// The fuzzers' (and the soak's) random source: SplitMix64, seeded per case from the run's seed and the case
/// index, so any one case is rebuilt from `(seed, index)` alone, whatever ran before it or on which connection.
///
/// Hand-written rather than x-sheep/swift-property-based: its `propertyCheck` runs one input at a time and
/// shrinks by re-running, while these cases go out over several concurrent connections to one live stack,
/// replay from an env var (`ORDERD_FUZZ_SEED`), and are bytes whose smallest failing form we print instead.
struct FuzzRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// The generator for case `index` of a run seeded with `seed`.
    init(seed: UInt64, index: Int) {
        var mixer = FuzzRandom(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        state = mixer.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ values: [T]) -> T { values[int(0..<values.count)] }
    mutating func bytes(_ count: Int, from alphabet: [UInt8]) -> [UInt8] { (0..<count).map { _ in pick(alphabet) } }
    mutating func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// A length skewed towards small values but reaching `maximum` now and then.
    mutating func skewedLength(_ minimum: Int, _ maximum: Int) -> Int {
        switch int(0..<10) {
        case 0..<6: return int(minimum...min(maximum, minimum + 64))
        case 6..<9: return int(minimum...min(maximum, minimum + 4096))
        default: return int(minimum...maximum)
        }
    }
}

/// Seed and case counts from the environment: `ORDERD_FUZZ_SEED` (decimal or 0x-hex) replays a run,
/// `ORDERD_FUZZ_HTTP_CASES` / `ORDERD_FUZZ_FCGI_CASES` set the counts, `ORDERD_FUZZ_ONLY` runs one case index.
enum FuzzSettings {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The seed to replay, or a fresh one.
    static func seed() -> UInt64 {
        if let text = environment["ORDERD_FUZZ_SEED"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            let lowered = text.lowercased()
            if lowered.hasPrefix("0x"), let value = UInt64(lowered.dropFirst(2), radix: 16) { return value }
            if let value = UInt64(text) { return value }
            print("fuzz: ORDERD_FUZZ_SEED '\(text)' is not a number; using a fresh seed")
        }
        var system = SystemRandomNumberGenerator()
        return system.next()
    }

    static func count(_ name: String, default value: Int) -> Int {
        guard let text = environment[name], let count = Int(text), count > 0 else { return value }
        return count
    }

    /// `ORDERD_FUZZ_ONLY=<index>`: run just that case (with the seed that printed it).
    static var only: Int? { environment["ORDERD_FUZZ_ONLY"].flatMap { Int($0) } }

    static func hex(_ seed: UInt64) -> String { "0x" + String(seed, radix: 16) }
}

/// Bytes as a Swift-like escaped string, runs of 16 or more equal bytes folded as `{'a' x 60000}`, so even a
/// 64 KiB request prints as something a person can read and rebuild exactly.
func fuzzEscaped(_ bytes: [UInt8]) -> String {
    var out = "\""
    var index = 0
    func escape(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "\\"): return "\\\\"
        case UInt8(ascii: "\""): return "\\\""
        case UInt8(ascii: "\r"): return "\\r"
        case UInt8(ascii: "\n"): return "\\n"
        case UInt8(ascii: "\t"): return "\\t"
        case 0x20...0x7E: return String(UnicodeScalar(byte))
        default: return "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        }
    }
    while index < bytes.count {
        var run = 1
        while index + run < bytes.count && bytes[index + run] == bytes[index] { run += 1 }
        if run >= 16 {
            out += "{'\(escape(bytes[index]))' x \(run)}"
            index += run
        } else {
            out += escape(bytes[index])
            index += 1
        }
    }
    return out + "\""
}
