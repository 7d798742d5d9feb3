import Testing
// @testable: these tests read internals: OrderdConfig (address).
@testable import OrderdConfig

/// `server.allow_from`: parsing addresses and CIDR blocks, and matching peers.
@Suite struct AllowedPeersTests {
    static func allows(_ list: String, _ peer: String) throws -> Bool {
        let peers = try #require(AllowedPeers(list))
        return peers.allows(try #require(AllowedPeers.address(peer)))
    }

    @Test(arguments: [
        // IPv4: single addresses, blocks, /0, /32, boundaries.
        ("127.0.0.1", "127.0.0.1", true), ("127.0.0.1", "127.0.0.2", false),
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.128/25", "192.168.1.128", true), ("192.168.1.128/25", "192.168.1.127", false),
        ("192.168.1.5/32", "192.168.1.5", true), ("192.168.1.5/32", "192.168.1.6", false),
        ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "::1", false),
        ("10.1.2.3/12", "10.15.0.1", true), ("10.1.2.3/12", "10.16.0.1", false),
        // IPv6: /128, blocks, /0; families never mix.
        ("::1", "::1", true), ("::1/128", "::2", false),
        ("fd00::/8", "fd12:3456::1", true), ("fd00::/8", "fe80::1", false),
        ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
        ("::/0", "2001:db8::1", true), ("::/0", "127.0.0.1", false),
        // An IPv4 peer on an IPv6 listener arrives mapped, and matches as IPv4.
        ("127.0.0.0/8", "::ffff:127.0.0.2", true), ("10.0.0.0/8", "::ffff:127.0.0.2", false),
        // Lists: commas and/or blanks.
        ("10.0.0.1, 10.0.0.2", "10.0.0.2", true), ("10.0.0.1 ::1\t192.168.0.0/16", "192.168.3.4", true),
        ("10.0.0.1,,::1", "::1", true), ("10.0.0.1 ::1", "10.0.0.3", false),
    ])
    func matches(_ list: String, _ peer: String, _ allowed: Bool) throws {
        #expect(try Self.allows(list, peer) == allowed)
    }

    @Test(arguments: [
        "web1", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0", "10.0.0.256",
        "10.0.0.1;10.0.0.2", "/8", "fe80::1%eth0", "0x7f.0.0.1", "10.0.0.0/08x",
    ])
    func refuses(_ list: String) {
        #expect(AllowedPeers(list) == nil)
    }

    @Test func emptyAllowsEveryoneAndRoundTrips() throws {
        #expect(AllowedPeers("")?.allowsEveryone == true)
        #expect(AllowedPeers(" , ")?.allowsEveryone == true)
        #expect(try Self.allows("", "203.0.113.1"))
        let configuration = try ConfigLoader.parse(text: "[server]\nallow_from = 10.0.0.0/8,::1  192.168.1.1\n", file: "/x.ini")
        #expect(configuration.server.allowFrom.text == "10.0.0.0/8, ::1, 192.168.1.1")
        #expect(configuration.renderINI().contains("\nallow_from = 10.0.0.0/8, ::1, 192.168.1.1\n"))
        #expect(try ConfigLoader.parse(text: configuration.renderINI(), file: "/x.ini") == configuration)
    }

    @Test func addressesAreShownAsText() throws {
        #expect(AllowedPeers.text(of: try #require(AllowedPeers.address("127.0.0.2"))) == "127.0.0.2")
        #expect(AllowedPeers.text(of: try #require(AllowedPeers.address("2001:db8::1"))) == "2001:db8::1")
    }
}
