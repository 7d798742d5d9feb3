import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// `server.allow_from`: the peers a TCP listener serves, as addresses and CIDR blocks of either family
/// (`127.0.0.1, 10.0.0.0/8, ::1, fd00::/8`). Empty allows every peer.
///
/// Parsed with `inet_pton` and matched on the raw address bytes: no package of ours has an IP network type, and
/// these thirty lines are all it takes. An IPv4 peer that reaches an IPv6 listener arrives as `::ffff:a.b.c.d`
/// and is matched as the IPv4 address it is, so `127.0.0.1` in the list means the same on either listener.
package struct AllowedPeers: Sendable, Equatable {
    /// One address block: the network's bytes (4 or 16) and how many leading bits must match.
    package struct Block: Sendable, Equatable {
        package let bytes: [UInt8]
        package let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var bits = prefixLength
            for (mine, theirs) in zip(bytes, address) where bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if mine & mask != theirs & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    package let blocks: [Block]
    /// The list as written (normalised: one blank after each comma), for rendering.
    package let text: String

    package var allowsEveryone: Bool { blocks.isEmpty }

    /// Every peer.
    package init() {
        blocks = []
        text = ""
    }

    /// Items separated by commas and/or blanks, each an address or `address/prefix`; nil if any item is not one.
    package init?(_ list: String) {
        var blocks: [Block] = []
        var items: [String] = []
        for item in list.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            guard let block = Self.block(item) else { return nil }
            blocks.append(block)
            items.append(String(item))
        }
        self.blocks = blocks
        text = items.joined(separator: ", ")
    }

    private static func block(_ item: Substring) -> Block? {
        let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = address(String(parts[0])) else { return nil }
        let maximum = address.count * 8
        var prefix = maximum
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let parsed = Int(parts[1]), parsed <= maximum
            else { return nil }
            prefix = parsed
        }
        return Block(bytes: address, prefixLength: prefix)
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address in text.
    static func address(_ text: String) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        if text.contains(":") {
            return inet_pton(AF_INET6, text, &buffer) == 1 ? buffer : nil
        }
        return inet_pton(AF_INET, text, &buffer) == 1 ? Array(buffer.prefix(4)) : nil
    }

    /// True when the peer's address bytes (4 or 16; IPv4-mapped IPv6 counts as IPv4) fall in a block.
    package func allows(_ address: [UInt8]) -> Bool {
        if blocks.isEmpty { return true }
        let plain = address.count == 16 && address.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF])
            ? Array(address.suffix(4)) : address
        return blocks.contains { $0.contains(plain) }
    }

    /// The peer's address bytes from `accept`'s address: 4 for AF_INET, 16 for AF_INET6, nil for anything else
    /// (a unix socket's peer has no address; the socket file's mode decides who connects there).
    package static func addressBytes(of storage: sockaddr_storage) -> [UInt8]? {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw -> [UInt8]? in
            switch family {
            case AF_INET:
                let address = raw.load(as: sockaddr_in.self).sin_addr
                return withUnsafeBytes(of: address) { Array($0) }
            case AF_INET6:
                let address = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: address) { Array($0) }
            default:
                return nil
            }
        }
    }

    /// The address in text, for the log line of a refused peer.
    package static func text(of address: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        let ok = address.withUnsafeBytes { source in
            output.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { inet_ntop(family, source.baseAddress, $0.baseAddress, socklen_t($0.count)) }
            }
        } != nil
        return ok ? String(decoding: output.prefix { $0 != 0 }, as: UTF8.self) : "?"
    }
}
