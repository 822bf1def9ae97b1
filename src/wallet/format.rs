//! Reading and writing what people type and read: amounts in BR or ETH, UTC dates, durations, `bytes32` text
//! (names, runtimes, licenses), packed versions (`1.2.3`), and decoded ABI values.

use alloy::{
    dyn_abi::DynSolValue,
    primitives::{
        utils::{format_units, parse_units},
        B256, U256,
    },
};

use super::errors::WalletError;

/// `units` base units as a decimal number of 18-decimal tokens (BR or ETH), trailing zeros trimmed.
pub fn amount(units: U256) -> String {
    let text = format_units(units, 18).unwrap_or_else(|_| units.to_string());
    match text.split_once('.') {
        Some((whole, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{frac}")
            }
        }
        None => text,
    }
}

/// Parses a decimal amount of an 18-decimal token (`"1000"`, `"0.5"`) into base units; `what` names the flag.
pub fn parse_amount(text: &str, what: &str) -> Result<U256, WalletError> {
    let units = parse_units(text.trim(), 18)
        .map_err(|e| WalletError::input(format!("{what} {text:?} is not an amount: {e}")))?;
    let value: U256 = units.into();
    Ok(value)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Truncation not possible: day in 1..=31, month in 1..=12.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01 (Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(t: u64) -> String {
    let t = i64::try_from(t).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60
    )
}

/// A Unix time from `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM` or a plain number of seconds.
pub fn parse_time(text: &str) -> Result<u64, WalletError> {
    let text = text.trim();
    if let Ok(t) = text.parse::<u64>() {
        return Ok(t);
    }
    let bad = || {
        WalletError::input(format!(
            "{text:?} is not a date (YYYY-MM-DD[THH:MM]) or Unix seconds"
        ))
    };
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (h, min) = time.split_once(':').ok_or_else(bad)?;
    let (h, min): (i64, i64) = (
        h.parse().map_err(|_| bad())?,
        min.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
    {
        return Err(bad());
    }
    // Truncation not possible: m in 1..=12, d in 1..=31 checked above.
    let days = days_from_civil(y, m as u32, d as u32);
    u64::try_from(days * 86_400 + h * 3_600 + min * 60).map_err(|_| bad())
}

/// A span of seconds as `3w 2d 4h` (largest units first, at most three).
pub fn span(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let units = [
        (7 * 86_400, "w"),
        (86_400, "d"),
        (3_600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, unit) in units {
        if left >= size {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        }
        if parts.len() == 3 {
            break;
        }
    }
    parts.join(" ")
}

/// Text left-aligned in a `bytes32` (names, runtimes), or a `0x`-prefixed 32-byte hex value as is.
pub fn word(text: &str, what: &str) -> Result<B256, WalletError> {
    if text.starts_with("0x") && text.len() == 66 {
        return text
            .parse()
            .map_err(|_| WalletError::input(format!("{what} {text:?} is not 32 bytes of hex")));
    }
    if text.len() > 32 {
        return Err(WalletError::input(format!(
            "{what} {text:?} is longer than 32 bytes"
        )));
    }
    let mut w = [0u8; 32];
    w[..text.len()].copy_from_slice(text.as_bytes());
    Ok(B256::from(w))
}

/// A `bytes32` read back as text when it is left-aligned printable ASCII (a name, a runtime, a license; the
/// license's derivatives flag in the last byte is ignored), else as hex.
pub fn word_text(w: B256) -> String {
    let bytes = w.as_slice();
    let body = &bytes[..31];
    let end = body.iter().position(|b| *b == 0).unwrap_or(31);
    let text = &body[..end];
    let printable = !text.is_empty()
        && text.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        && body[end..].iter().all(|b| *b == 0)
        && (bytes[31] <= 1 || end == 31 && bytes[31].is_ascii_graphic());
    if printable {
        let mut s = String::from_utf8_lossy(text).into_owned();
        if end == 31 && bytes[31] > 1 {
            s.push(char::from(bytes[31]));
        }
        s
    } else {
        w.to_string()
    }
}

/// Parses a version: `major.minor.patch` packs as `major << 32 | minor << 16 | patch` (the registry's
/// convention), a plain number is taken as is.
pub fn parse_version(text: &str) -> Result<u64, WalletError> {
    let text = text.trim().trim_start_matches('v');
    if let Ok(v) = text.parse::<u64>() {
        return Ok(v);
    }
    let bad = || WalletError::input(format!("version {text:?} is not N or MAJOR.MINOR.PATCH"));
    let parts: Vec<u64> = text
        .split('.')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [major, minor, patch] = parts[..] else {
        return Err(bad());
    };
    if major > u64::from(u32::MAX) || minor > 0xffff || patch > 0xffff {
        return Err(bad());
    }
    Ok(major << 32 | minor << 16 | patch)
}

/// A version as `major.minor.patch` when it uses the packed form, else the number.
pub fn version_text(v: u64) -> String {
    if v > 0xffff {
        format!("{}.{}.{}", v >> 32, (v >> 16) & 0xffff, v & 0xffff)
    } else {
        v.to_string()
    }
}

/// A decoded ABI value as text: addresses checksummed, numbers in decimal, `bytes32` as text when it is text.
pub fn value_text(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(v, _) => v.to_string(),
        DynSolValue::Int(v, _) => v.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::FixedBytes(w, 32) => {
            let text = word_text(*w);
            if text.starts_with("0x") {
                text
            } else {
                format!("{text:?}")
            }
        }
        DynSolValue::FixedBytes(w, n) => alloy::hex::encode_prefixed(&w[..*n]),
        DynSolValue::Bytes(b) => format!("0x{} bytes", b.len()),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            format!(
                "[{}]",
                items.iter().map(value_text).collect::<Vec<_>>().join(", ")
            )
        }
        other => format!("{other:?}"),
    }
}

/// The share `part / whole` in percent with one decimal (`0.0` when `whole` is zero).
pub fn percent(part: U256, whole: U256) -> String {
    if whole.is_zero() {
        return "0.0".into();
    }
    let tenths = part.saturating_mul(U256::from(1_000)) / whole;
    let tenths = u64::try_from(tenths).unwrap_or(u64::MAX);
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_830_297_600), "2028-01-01 00:00 UTC");
        assert_eq!(parse_time("2028-01-01").unwrap(), 1_830_297_600);
        assert_eq!(
            parse_time("2028-01-01T01:30").unwrap(),
            1_830_297_600 + 5_400
        );
        assert_eq!(parse_time("12345").unwrap(), 12_345);
        assert!(parse_time("2028-13-01").is_err());
        for t in [951_782_400u64, 1_709_164_800, 4_107_542_400] {
            let date = &utc(t)[..10];
            assert_eq!(parse_time(date).unwrap(), t, "{date}");
        }
    }

    #[test]
    fn amounts_and_versions() {
        assert_eq!(
            parse_amount("1.5", "x").unwrap(),
            U256::from(15u64) * U256::from(10u64).pow(U256::from(17))
        );
        assert_eq!(amount(parse_amount("1000", "x").unwrap()), "1000");
        assert_eq!(amount(parse_amount("0.25", "x").unwrap()), "0.25");
        assert!(parse_amount("abc", "x").is_err());
        assert_eq!(parse_version("1.2.3").unwrap(), 1 << 32 | 2 << 16 | 3);
        assert_eq!(version_text(parse_version("1.2.3").unwrap()), "1.2.3");
        assert_eq!(parse_version("7").unwrap(), 7);
        assert_eq!(version_text(7), "7");
        assert!(parse_version("1.2").is_err());
    }

    #[test]
    fn words_read_back_as_text() {
        let w = word("llama-3", "name").unwrap();
        assert_eq!(word_text(w), "llama-3");
        let license = B256::from(verity_abi::registry::license_id("MIT", true));
        assert_eq!(word_text(license), "MIT");
        assert!(word_text(B256::repeat_byte(0xab)).starts_with("0x"));
        assert!(word(&"x".repeat(33), "name").is_err());
        assert_eq!(span(7 * 86_400 + 3_600), "1w 1h");
    }
}
