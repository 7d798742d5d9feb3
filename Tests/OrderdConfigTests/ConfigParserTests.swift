import Testing
// @testable: these tests read internals: OrderdConfig (Any, INIDocument, INIParser, duplicateKey).
@testable import OrderdConfig

/// The INI grammar, case by case, including what inih accepts and what we deliberately reject.
@Suite struct ConfigParserTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        /// `section.key=value@line`
        let entries: [String]
        let problems: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "blanks around keys, values and headers",
             text: "  [ server ]  \n\t request_workers\t=\t 4  \n",
             entries: ["server.request_workers=4@2"], problems: []),
        Case(name: "no blanks at all",
             text: "[server]\nrequest_workers=4\n",
             entries: ["server.request_workers=4@2"], problems: []),
        Case(name: "full-line comments with ; and #, indented too",
             text: "; top\n# hash\n[server]\n  ; indented\n\t# indented hash\nlisten = a\n",
             entries: ["server.listen=a@6"], problems: []),
        Case(name: "inline comments after a blank",
             text: "[s]\na = 1 ; one\nb = 2 # two\nc = 3\t;tab\n",
             entries: ["s.a=1@2", "s.b=2@3", "s.c=3@4"], problems: []),
        Case(name: "; or # without a blank before it is part of the value",
             text: "[s]\na = b;c\nd = e#f\n",
             entries: ["s.a=b;c@2", "s.d=e#f@3"], problems: []),
        Case(name: "a value that is only a comment is empty",
             text: "[s]\na = ; nothing\nb =# nothing\n",
             entries: ["s.a=@2", "s.b=@3"], problems: []),
        Case(name: "comment after a section header",
             text: "[s] ; the s section\na = 1\n[t]# hash\nb = 2\n",
             entries: ["s.a=1@2", "t.b=2@4"], problems: []),
        Case(name: "double quotes keep ; # and blanks",
             text: "[s]\na = \" x ; y # z \"\n",
             entries: ["s.a= x ; y # z @2"], problems: []),
        Case(name: "single quotes keep ; # and double quotes",
             text: "[s]\na = 'say \"hi\" ; # '  ; comment\n",
             entries: ["s.a=say \"hi\" ; # @2"], problems: []),
        Case(name: "quotes only matter at the start of a value",
             text: "[s]\na = it's \"fine\"\n",
             entries: ["s.a=it's \"fine\"@2"], problems: []),
        Case(name: "empty values, bare and quoted",
             text: "[s]\na =\nb = \"\"\nc=''\n",
             entries: ["s.a=@2", "s.b=@3", "s.c=@4"], problems: []),
        Case(name: "= inside a value",
             text: "[s]\na = b=c = d\n",
             entries: ["s.a=b=c = d@2"], problems: []),
        Case(name: "UTF-8 BOM at the start is ignored",
             text: "\u{FEFF}[s]\na = 1\n",
             entries: ["s.a=1@2"], problems: []),
        Case(name: "CRLF line endings",
             text: "[s]\r\na = 1\r\n\r\nb = \"q\"\r\nc = 3 ; x\r\n",
             entries: ["s.a=1@2", "s.b=q@4", "s.c=3@5"], problems: []),
        Case(name: "no newline at the end",
             text: "[s]\na = 1",
             entries: ["s.a=1@2"], problems: []),
        Case(name: "non-ASCII values pass through",
             text: "[s]\na = /srv/zàmbia/ørder.db\n",
             entries: ["s.a=/srv/zàmbia/ørder.db@2"], problems: []),
        Case(name: "repeated sections are merged",
             text: "[s]\na = 1\n[t]\nb = 2\n[s]\nc = 3\n",
             entries: ["s.a=1@2", "t.b=2@4", "s.c=3@6"], problems: []),
        Case(name: "names are case-sensitive: a and A are different keys",
             text: "[s]\na = 1\nA = 2\n",
             entries: ["s.a=1@2", "s.A=2@3"], problems: []),
        Case(name: "duplicate key is rejected, naming both lines; the first value stays",
             text: "[s]\na = 1\nb = 2\na = 3\n",
             entries: ["s.a=1@2", "s.b=2@3"],
             problems: ["Duplicate key 's.a' in /x.ini line 4; first set on line 2."]),
        Case(name: "duplicate key across repeated sections",
             text: "[s]\na = 1\n[t]\n[s]\na = 1\n",
             entries: ["s.a=1@2"],
             problems: ["Duplicate key 's.a' in /x.ini line 5; first set on line 2."]),
        Case(name: "same key in two sections is fine",
             text: "[s]\na = 1\n[t]\na = 2\n",
             entries: ["s.a=1@2", "t.a=2@4"], problems: []),
        Case(name: "key outside any section",
             text: "a = 1\n[s]\nb = 2\n",
             entries: ["s.b=2@3"],
             problems: ["Key 'a' in /x.ini line 1 is outside any section; put it below a [section] header."]),
        Case(name: "line that is nothing",
             text: "[s]\nblah\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: expected 'key = value', '[section]' or a comment, found 'blah'."]),
        Case(name: "key with a blank in it",
             text: "[s]\nfoo bar = 1\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: expected 'key = value', '[section]' or a comment, found 'foo bar = 1'."]),
        Case(name: "missing key",
             text: "[s]\n = 1\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: expected 'key = value', '[section]' or a comment, found '= 1'."]),
        Case(name: "key: value (colon) is not our syntax",
             text: "[s]\na: 1\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: expected 'key = value', '[section]' or a comment, found 'a: 1'."]),
        Case(name: "unterminated double quote",
             text: "[s]\na = \"x ; y\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: value of 's.a' has no closing \" quote."]),
        Case(name: "unterminated single quote does not run into the next line",
             text: "[s]\na = 'x\nb = 'y'\n",
             entries: ["s.b=y@3"],
             problems: ["Syntax error in /x.ini line 2: value of 's.a' has no closing ' quote."]),
        Case(name: "text after a quoted value",
             text: "[s]\na = \"x\" y\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 2: unexpected 'y' after the quoted value of 's.a'."]),
        Case(name: "unclosed [ and its keys are not reported again",
             text: "[s\na = 1\n[t]\nb = 2\n",
             entries: ["t.b=2@4"],
             problems: ["Syntax error in /x.ini line 1: missing ']' in section header '[s'."]),
        Case(name: "empty section name",
             text: "[ ]\na = 1\n",
             entries: [],
             problems: ["Syntax error in /x.ini line 1: empty section name in '[ ]'."]),
        Case(name: "text after a section header",
             text: "[s] x\na = 1\n",
             entries: ["s.a=1@2"],
             problems: ["Syntax error in /x.ini line 1: unexpected 'x' after section header '[s]'."]),
        Case(name: "all problems are reported, with CRLF line numbers",
             text: "\u{FEFF}a = 1\r\n[s]\r\nblah\r\nb = 1\r\nb = 2\r\n",
             entries: ["s.b=1@4"],
             problems: [
                 "Key 'a' in /x.ini line 1 is outside any section; put it below a [section] header.",
                 "Syntax error in /x.ini line 3: expected 'key = value', '[section]' or a comment, found 'blah'.",
                 "Duplicate key 's.b' in /x.ini line 5; first set on line 4.",
             ]),
    ]

    @Test(arguments: cases)
    func grammar(_ c: Case) {
        let document = INIParser.parse(c.text, file: "/x.ini")
        #expect(document.entries.map { "\($0.section).\($0.key)=\($0.value)@\($0.line)" } == c.entries)
        #expect(document.problems.map(\.message) == c.problems)
    }

    @Test func sectionHeadersKeepEveryOccurrence() {
        let document = INIParser.parse("[a]\n[b]\n[a]\n", file: "/x.ini")
        #expect(document.sections == [.init(name: "a", line: 1), .init(name: "b", line: 2), .init(name: "a", line: 3)])
    }

    @Test func problemsCarryKindLineAndKey() throws {
        let document = INIParser.parse("[s]\na = 1\na = 2\n", file: "/x.ini")
        let problem = try #require(document.problems.first)
        #expect(problem.kind == .duplicateKey)
        #expect(problem.line == 3)
        #expect(problem.key == "s.a")
        #expect(problem.file == "/x.ini")
    }

    @Test func emptyTextHasNothing() {
        #expect(INIParser.parse("", file: "/x.ini") == INIDocument())
        #expect(INIParser.parse("\u{FEFF}", file: "/x.ini") == INIDocument())
    }
}
