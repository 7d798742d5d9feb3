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
enum ISO4217 {
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
