import OrderdSupport
import Testing

/// What the audit file and log lines show of a buyer.
@Suite struct RedactTests {
    @Test(arguments: [
        ("+8613800138000", "+86*********00"),
        ("+491701234567", "+49********67"),
        ("+123456", "+12**56"),
        ("+1234", "*****"),
        ("", ""),
        // Not a validated number: counted in characters, not bytes.
        ("+٤٩١٧٠١٢٣", "+٤٩****٢٣"),
        ("+49🇩🇪12345", "+49****45"),
        ("+12\r\n34567", "+12****67"),
    ])
    func phoneKeepsTheFirstThreeAndLastTwoCharacters(phone: String, masked: String) {
        #expect(Redact.phone(phone) == masked)
    }

    @Test func emailKeepsTheFirstLetterAndTheDomain() {
        #expect(Redact.email("anna@example.com") == "a***@example.com")
        #expect(Redact.email("@example.com") == "***")
        #expect(Redact.email("no-at-sign") == "***")
    }
}
