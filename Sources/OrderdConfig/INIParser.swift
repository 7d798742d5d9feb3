import OrderdSupport

// Why our own parser rather than libinih: inih reports only the first error's line number
// and hands values to a callback without telling which line set them. We need a line per key
// (for "invalid value ... line 12" and duplicate detection) and every problem at once, so ops
// fix a file in one pass instead of one restart per typo. The grammar is small enough that
// ~150 lines of Swift are simpler than bridging inih's callbacks.

/// A parsed INI file: section headers and key/value entries in file order, plus syntax problems.
struct INIDocument: Sendable, Equatable {
    /// One `[name]` header line. A section may appear more than once; its keys are merged.
    struct SectionHeader: Sendable, Equatable {
        var name: String
        var line: Int
    }

    /// One `key = value` line inside a section.
    struct Entry: Sendable, Equatable {
        var section: String
        var key: String
        /// The value with surrounding blanks, quotes and any inline comment removed.
        var value: String
        var line: Int
    }

    var sections: [SectionHeader] = []
    var entries: [Entry] = []
    /// Syntax errors, keys outside any section and duplicate keys, in line order.
    var problems: [ConfigProblem] = []
}

/// A php.ini-style parser:
///
/// - `[section]` headers (blanks inside the brackets are trimmed), `key = value` lines,
///   full-line comments starting with `;` or `#`;
/// - an inline comment starts at `;` or `#` that begins an unquoted value or follows a blank
///   (`a = b;c` is the value `b;c`, `a = b ;c` is `b`);
/// - `"double"` or `'single'` quotes keep blanks, `;` and `#` literally; there are no escapes;
/// - blanks around keys and values are trimmed; empty values are allowed;
/// - a UTF-8 BOM at the start is skipped; LF and CRLF line endings are accepted;
/// - keys and section names are case-sensitive and otherwise free-form here: the loader
///   reports unknown names with a suggestion, which helps more than a syntax error would.
///
/// A key set twice in one section is an error naming both lines. inih by default lets the later
/// one win; we reject it because that is how ops mistakes hide (an edit near the top silently
/// overridden by a forgotten line further down). Repeated sections are merged.
enum INIParser {
    static func parse(_ text: String, file: String) -> INIDocument {
        var document = INIDocument()
        // Split on bytes: in Swift "\r\n" is one Character, so splitting Characters on "\n" misses CRLF.
        var bytes = Substring(text).utf8[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }

        enum State { case none, section(String), broken }
        var state = State.none
        var firstLines: [String: [String: Int]] = [:]

        func syntaxError(_ line: Int, _ detail: String) {
            document.problems.append(ConfigProblem(
                kind: .syntaxError, file: file, line: line,
                message: "Syntax error in \(file) line \(line): \(detail)."))
        }

        for (index, rawLine) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let lineBytes = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            let line = String(decoding: lineBytes, as: UTF8.self)
            let trimmed = line.trimmingBlanks()

            if trimmed.isEmpty || trimmed.first == ";" || trimmed.first == "#" { continue }

            if trimmed.first == "[" {
                guard let close = trimmed.firstIndex(of: "]") else {
                    syntaxError(lineNumber, "missing ']' in section header '\(trimmed)'")
                    state = .broken
                    continue
                }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close].trimmingBlanks()
                let rest = trimmed[trimmed.index(after: close)...].trimmingBlanks()
                guard !name.isEmpty else {
                    syntaxError(lineNumber, "empty section name in '\(trimmed)'")
                    state = .broken
                    continue
                }
                if !rest.isEmpty && !rest.startsComment {
                    syntaxError(lineNumber, "unexpected '\(rest)' after section header '[\(name)]'")
                }
                document.sections.append(.init(name: String(name), line: lineNumber))
                state = .section(String(name))
                continue
            }

            let generic = "expected 'key = value', '[section]' or a comment, found '\(trimmed)'"
            guard let equals = trimmed.firstIndex(of: "=") else {
                syntaxError(lineNumber, generic)
                continue
            }
            let key = String(trimmed[..<equals].trimmingBlanks())
            guard !key.isEmpty, !key.contains(where: { $0.isBlank || "[]\"';#".contains($0) }) else {
                syntaxError(lineNumber, generic)
                continue
            }
            let displayKey: String
            if case .section(let section) = state { displayKey = "\(section).\(key)" } else { displayKey = key }

            let afterEquals = trimmed[trimmed.index(after: equals)...].drop(while: \.isBlank)
            let value: Substring
            if let quote = afterEquals.first, quote == "\"" || quote == "'" {
                let body = afterEquals.dropFirst()
                guard let end = body.firstIndex(of: quote) else {
                    syntaxError(lineNumber, "value of '\(displayKey)' has no closing \(quote) quote")
                    continue
                }
                value = body[..<end]
                let rest = body[body.index(after: end)...].trimmingBlanks()
                if !rest.isEmpty && !rest.startsComment {
                    syntaxError(lineNumber, "unexpected '\(rest)' after the quoted value of '\(displayKey)'")
                    continue
                }
            } else {
                var end = afterEquals.endIndex
                var previousIsBlank = true
                for i in afterEquals.indices {
                    let c = afterEquals[i]
                    if previousIsBlank && (c == ";" || c == "#") { end = i; break }
                    previousIsBlank = c.isBlank
                }
                value = afterEquals[..<end].trimmingBlanks()
            }

            switch state {
            case .broken:
                continue
            case .none:
                document.problems.append(ConfigProblem(
                    kind: .keyOutsideSection, file: file, line: lineNumber, key: key,
                    message: "Key '\(key)' in \(file) line \(lineNumber) is outside any section; put it below a [section] header."))
            case .section(let section):
                if let first = firstLines[section]?[key] {
                    document.problems.append(ConfigProblem(
                        kind: .duplicateKey, file: file, line: lineNumber, key: displayKey,
                        message: "Duplicate key '\(displayKey)' in \(file) line \(lineNumber); first set on line \(first)."))
                } else {
                    firstLines[section, default: [:]][key] = lineNumber
                    document.entries.append(.init(section: section, key: key, value: String(value), line: lineNumber))
                }
            }
        }
        return document
    }
}

extension Character {
    /// Space, tab, or a stray carriage return (a CR before LF is already gone).
    fileprivate var isBlank: Bool { self == " " || self == "\t" || self == "\r" }
}

extension StringProtocol {
    fileprivate func trimmingBlanks() -> SubSequence {
        let start = firstIndex { !$0.isBlank } ?? endIndex
        let end = lastIndex { !$0.isBlank }.map(index(after:)) ?? start
        return self[start..<end]
    }

    fileprivate var startsComment: Bool { first == ";" || first == "#" }
}
