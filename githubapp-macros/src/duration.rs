//! Compile-time parsing of duration strings such as `"30s"` (the `timeout` flag).
//!
//! The grammar is deliberately small: a whole number immediately followed by one unit,
//! `ms`, `s`, `m` or `h`. Anything else is rejected with the closest valid spelling.

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not `<number><unit>`; `fix` is a valid spelling of what was probably meant.
    Invalid { fix: Option<String> },
    /// A bare number, e.g. `"30"`.
    MissingUnit { number: String },
    /// A number with a unit we do not know, e.g. `"30sec"` or `"1d"`.
    UnknownUnit { unit: String, fix: Option<String> },
    /// The duration is zero.
    Zero,
    /// More milliseconds than fit in a `u64`.
    TooLarge,
}

const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// Common spellings of our units, used only to suggest a fix.
const UNIT_ALIASES: &[(&str, &str)] = &[
    ("msec", "ms"),
    ("msecs", "ms"),
    ("milli", "ms"),
    ("millis", "ms"),
    ("millisecond", "ms"),
    ("milliseconds", "ms"),
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("min", "m"),
    ("mins", "m"),
    ("minute", "m"),
    ("minutes", "m"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hour", "h"),
    ("hours", "h"),
];

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"1h"` into milliseconds (always more than zero).
pub(crate) fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(DurationError::Invalid { fix: fix(text) });
    }
    if unit.is_empty() {
        return Err(DurationError::MissingUnit { number: number.to_owned() });
    }
    let Some(&(_, factor)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        if unit.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(DurationError::UnknownUnit { unit: unit.to_owned(), fix: fix(text) });
        }
        return Err(DurationError::Invalid { fix: fix(text) });
    };
    let value: u64 = number.parse().map_err(|_| DurationError::TooLarge)?;
    let millis = value.checked_mul(factor).ok_or(DurationError::TooLarge)?;
    if millis == 0 {
        return Err(DurationError::Zero);
    }
    Ok(millis)
}

/// A valid spelling close to `text`: whitespace removed, unit lowercased, aliases mapped.
fn fix(text: &str) -> Option<String> {
    let compact: String =
        text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let digits = compact.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = compact.split_at(digits);
    if number.is_empty() {
        return None;
    }
    let unit = UNIT_ALIASES.iter().find(|(alias, _)| *alias == unit).map_or(unit, |(_, unit)| *unit);
    let candidate = format!("{number}{unit}");
    (candidate != text && parse_millis(&candidate).is_ok()).then_some(candidate)
}

impl DurationError {
    /// The full compile error message for the rejected literal `text`.
    pub(crate) fn message(&self, text: &str) -> String {
        match self {
            DurationError::Invalid { fix: Some(fix) } => {
                format!("invalid duration \"{text}\"; did you mean \"{fix}\"?")
            }
            DurationError::Invalid { fix: None } => format!(
                "invalid duration \"{text}\"; write a whole number followed by `ms`, `s`, `m` or `h`, e.g. \"30s\""
            ),
            DurationError::MissingUnit { number } => {
                format!("duration \"{text}\" has no unit; did you mean \"{number}s\"?")
            }
            DurationError::UnknownUnit { unit, fix: Some(fix) } => {
                format!("unknown unit \"{unit}\" in duration \"{text}\"; did you mean \"{fix}\"?")
            }
            DurationError::UnknownUnit { unit, fix: None } => {
                format!("unknown unit \"{unit}\" in duration \"{text}\"; use `ms`, `s`, `m` or `h`")
            }
            DurationError::Zero => format!("duration \"{text}\" must be greater than zero"),
            DurationError::TooLarge => format!("duration \"{text}\" is too large"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
        assert_eq!(parse_millis("007s"), Ok(7_000));
    }

    #[test]
    fn rejects_zero_and_overflow() {
        assert_eq!(parse_millis("0s"), Err(DurationError::Zero));
        assert_eq!(parse_millis("0ms"), Err(DurationError::Zero));
        assert_eq!(parse_millis("99999999999999999999ms"), Err(DurationError::TooLarge));
        assert_eq!(parse_millis("9999999999999999h"), Err(DurationError::TooLarge));
    }

    #[test]
    fn rejects_other_shapes_with_a_fix() {
        assert_eq!(parse_millis("30"), Err(DurationError::MissingUnit { number: "30".into() }));
        assert_eq!(
            parse_millis("30sec"),
            Err(DurationError::UnknownUnit { unit: "sec".into(), fix: Some("30s".into()) })
        );
        assert_eq!(
            parse_millis("2Minutes"),
            Err(DurationError::UnknownUnit { unit: "Minutes".into(), fix: Some("2m".into()) })
        );
        assert_eq!(parse_millis("1d"), Err(DurationError::UnknownUnit { unit: "d".into(), fix: None }));
        assert_eq!(parse_millis("30 s"), Err(DurationError::Invalid { fix: Some("30s".into()) }));
        assert_eq!(parse_millis("1.5s"), Err(DurationError::Invalid { fix: None }));
        assert_eq!(parse_millis(""), Err(DurationError::Invalid { fix: None }));
        assert_eq!(parse_millis("s"), Err(DurationError::Invalid { fix: None }));
        assert_eq!(parse_millis("-1s"), Err(DurationError::Invalid { fix: None }));
        assert_eq!(parse_millis("1h30m"), Err(DurationError::Invalid { fix: None }));
    }

    #[test]
    fn explains_each_error() {
        let msg = |text: &str| parse_millis(text).err().map(|e| e.message(text));
        let expect = |text: &str| Some(text.to_owned());
        assert_eq!(msg("30"), expect("duration \"30\" has no unit; did you mean \"30s\"?"));
        assert_eq!(msg("30sec"), expect("unknown unit \"sec\" in duration \"30sec\"; did you mean \"30s\"?"));
        assert_eq!(msg("1d"), expect("unknown unit \"d\" in duration \"1d\"; use `ms`, `s`, `m` or `h`"));
        assert_eq!(
            msg("soon"),
            expect(
                "invalid duration \"soon\"; write a whole number followed by `ms`, `s`, `m` or `h`, e.g. \"30s\""
            )
        );
        assert_eq!(msg("30 s"), expect("invalid duration \"30 s\"; did you mean \"30s\"?"));
        assert_eq!(msg("0s"), expect("duration \"0s\" must be greater than zero"));
        assert_eq!(msg("99999999999999999999ms"), expect("duration \"99999999999999999999ms\" is too large"));
        assert_eq!(msg("30s"), None);
    }
}
