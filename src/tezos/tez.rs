//! Tez amounts for people: mutez shown as tez (`1.5 ꜩ`, mutez / 10⁶ with trailing zeros
//! trimmed, as the Ledger Tezos app shows them) and tez read from configuration (`"1.5"`, at
//! most 6 decimals).

/// Mutez as tez: `1.5 ꜩ`, `0.000001 ꜩ`, `0 ꜩ`.
pub(crate) fn format(mutez: u128) -> String {
    let whole = mutez / 1_000_000;
    let frac = mutez % 1_000_000;
    if frac == 0 {
        return format!("{whole} ꜩ");
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{} ꜩ", digits.trim_end_matches('0'))
}

/// `"12"`, `"0.5"`, `"1.000001"` (tez) as mutez; `None` when it is not such a number.
pub(crate) fn parse(text: &str) -> Option<u128> {
    let t = text.trim().trim_end_matches('ꜩ').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let frac: u128 = format!("{frac:0<6}").parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tez_amounts_trim_trailing_zeros_and_parse_back() {
        for (mutez, shown) in [
            (0, "0 ꜩ"),
            (1, "0.000001 ꜩ"),
            (1_500_000, "1.5 ꜩ"),
            (2_000_000, "2 ꜩ"),
            (1_234_567, "1.234567 ꜩ"),
            (100_010, "0.10001 ꜩ"),
        ] {
            assert_eq!(super::format(mutez), shown);
            assert_eq!(super::parse(shown), Some(mutez), "{shown}");
        }
        for bad in ["", "-1", "1.0000001", "1e3", ".5", "1,5", "abc"] {
            assert_eq!(super::parse(bad), None, "{bad}");
        }
        assert_eq!(super::parse("12"), Some(12_000_000));
    }
}
