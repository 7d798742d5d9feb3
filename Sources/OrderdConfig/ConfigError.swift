import OrderdSupport

/// Everything wrong with a configuration file, all at once, so ops can fix it in one pass.
///
/// `description` is one line per problem, in file order, ready to print on stderr or log.
package struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The problems, sorted by line; problems about the whole file (no line) come first.
    package let problems: [ConfigProblem]

    /// One line per problem, joined with `"\n"`.
    package var description: String {
        problems.map(\.message).joined(separator: "\n")
    }

    /// Creates an error from `problems`, sorted stably by line.
    package init(problems: [ConfigProblem]) {
        self.problems = problems.enumerated().sorted { a, b in
            let (la, lb) = (a.element.line ?? 0, b.element.line ?? 0)
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }
}

/// One problem in a configuration file.
package struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem this is.
    package struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: String, Sendable, Hashable {
            case unreadableFile, syntaxError, keyOutsideSection, duplicateKey
            case unknownSection, unknownKey, invalidValue
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// The file is missing, unreadable, too large or not UTF-8.
        package static let unreadableFile = Kind(.unreadableFile)
        /// A line is neither a section header, a comment nor `key = value`; or a quote or `[` is not closed.
        package static let syntaxError = Kind(.syntaxError)
        /// A `key = value` line comes before the first `[section]`.
        package static let keyOutsideSection = Kind(.keyOutsideSection)
        /// A key is set twice in the same section.
        package static let duplicateKey = Kind(.duplicateKey)
        /// A `[section]` orderd does not know.
        package static let unknownSection = Kind(.unknownSection)
        /// A key orderd does not know in a known section.
        package static let unknownKey = Kind(.unknownKey)
        /// A value that does not parse as the key's type or is out of range.
        package static let invalidValue = Kind(.invalidValue)

        package var description: String { code.rawValue }
    }

    /// What kind of problem this is.
    package let kind: Kind
    /// The configuration file, as given to the loader.
    package let file: String
    /// 1-based line number, or `nil` for problems about the whole file.
    package let line: Int?
    /// The full key, `section.name`, when the problem is about one key.
    package let key: String?
    /// The offending value, when the problem is about a value; `nil` for secret keys.
    package let value: String?
    /// The whole human-readable line, e.g.
    /// `Invalid value 'abc' for 'server.request_workers' in /etc/orderd/orderd.ini line 12; expected an integer from 1 to 256.`
    package let message: String

    /// Creates a problem; `message` is the complete line shown to ops.
    package init(kind: Kind, file: String, line: Int?, key: String? = nil, value: String? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.key = key
        self.value = value
        self.message = message
    }

    package var description: String { message }
}
