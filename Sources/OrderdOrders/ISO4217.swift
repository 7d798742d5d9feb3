import OrderdSupport

/// ISO 4217 "List One" (current currency, fund and precious-metal codes), as in force on 2026-01-01.
///
/// Source: the Debian `iso-codes` 4.15 table, brought up to date with ISO 4217 amendments 176–180:
/// added XCG (Caribbean guilder, 176), ZWG (Zimbabwe Gold, 177), XAD (Arab Accounting Dinar, 179);
/// withdrawn ANG (176), ZWL (177), CUC (178), BGN (180, Bulgaria joined the euro on 2026-01-01), and the
/// earlier HRK (174) and SLL (175) that `iso-codes` still lists. 178 codes.
///
/// The list is complete on purpose, so it also holds fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW,
/// XAD, XDR, XSU, XUA), precious metals (XAG, XAU, XPD, XPT), bond-market units (XBA–XBD) and XTS (testing)
/// and XXX (no currency). A policy that accepts only spendable currencies belongs on top of this list.
///
/// Keep it in sync with the maintenance agency's amendments; `OrderValidationCurrencyTests` pins the count and
/// the recent changes.
package enum ISO4217 {
    /// Active alphabetic codes, upper case.
    static let activeCodes: Set<String> = [
        "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF", "BMD", "BND",
        "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY",
        "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
        "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD",
        "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP",
        "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
        "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
        "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
        "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX",
        "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAD", "XAF", "XAG", "XAU", "XBA",
        "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR",
        "ZMW", "ZWG",
    ]
}

extension ISO4217 {
    /// Codes whose minor unit is not two decimals, from the same List One (column "Minor unit"). Every other
    /// active code has two. Amounts in the API (`unit_price_cents`, `total_cents`, `revenue_cents`) count this
    /// minor unit: JPY 1299 is ¥1,299, EUR 1299 is 12.99 EUR, KWD 1299 is 1.299 KWD.
    static let minorUnitExceptions: [String: Int] = [
        // No decimals.
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
        "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        // Three.
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
        // Four (units of account).
        "CLF": 4, "UYW": 4,
        // "N.A." in the list: metals, bond-market units, XDR, XSU, XUA, XTS and XXX have no minor unit, so an
        // amount in them counts whole units.
        "XAG": 0, "XAU": 0, "XBA": 0, "XBB": 0, "XBC": 0, "XBD": 0, "XDR": 0, "XPD": 0, "XPT": 0, "XSU": 0,
        "XTS": 0, "XUA": 0, "XXX": 0,
    ]

    /// Decimal places of `code`'s minor unit: 2 unless the list says otherwise (an unknown code too, the most
    /// common case; the validator accepts active codes only).
    static func minorUnits(of code: String) -> Int {
        minorUnitExceptions[code] ?? 2
    }

    /// `amount` minor units of `currency` as a plain decimal and the code: `1299 JPY`, `12.99 EUR`,
    /// `1.299 KWD`, `-0.05 USD`. No grouping separators and no symbol, so the text reads the same in every
    /// language an SMS may be in.
    package static func format(minorUnits amount: Int64, currency: String) -> String {
        let digits = minorUnits(of: currency)
        let sign = amount < 0 ? "-" : ""
        let magnitude = amount.magnitude
        guard digits > 0 else { return "\(sign)\(magnitude) \(currency)" }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let fraction = String(magnitude % scale)
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return "\(sign)\(magnitude / scale).\(padded) \(currency)"
    }
}
