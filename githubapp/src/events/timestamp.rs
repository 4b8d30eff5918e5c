//! [`Timestamp`]: a UTC instant that reads every format GitHub puts in webhook payloads.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time in a webhook payload.
///
/// GitHub is not consistent about timestamps, so this reads all three forms that real
/// deliveries use:
///
/// - RFC 3339: `"2019-05-15T15:20:30Z"`, `"2019-05-15T11:20:30-04:00"`, fractional seconds;
/// - `"YYYY-MM-DD HH:MM:SS"`, taken as UTC (`check_run.rerequested` sends these);
/// - integer Unix seconds (`push` sends `repository.created_at` and `pushed_at` this way).
///
/// It always writes RFC 3339 in UTC (`"2019-05-15T15:20:30Z"`), and dereferences to
/// [`chrono::DateTime<Utc>`].
///
/// ```
/// use githubapp::events::Timestamp;
///
/// let a: Timestamp = serde_json::from_str(r#""2018-04-25T20:42:10Z""#)?;
/// let b: Timestamp = serde_json::from_str(r#""2018-04-25 20:42:10""#)?;
/// let c: Timestamp = serde_json::from_str("1524688930")?;
/// assert!(a == b && b == c);
/// assert_eq!(a.timestamp(), 1524688930); // via Deref to chrono::DateTime<Utc>
/// assert_eq!(serde_json::to_string(&c)?, r#""2018-04-25T20:42:10Z""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// The instant `secs` seconds after the Unix epoch; `None` when out of range.
    pub fn from_unix(secs: i64) -> Option<Self> {
        DateTime::from_timestamp(secs, 0).map(Self)
    }

    /// The instant as a [`chrono::DateTime<Utc>`].
    pub fn as_datetime(&self) -> &DateTime<Utc> {
        &self.0
    }

    /// The instant as a [`chrono::DateTime<Utc>`], by value.
    pub fn into_datetime(self) -> DateTime<Utc> {
        self.0
    }
}

impl Deref for Timestamp {
    type Target = DateTime<Utc>;

    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        Self(instant)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(ts: Timestamp) -> Self {
        ts.0
    }
}

impl FromStr for Timestamp {
    type Err = chrono::ParseError;

    /// Parses RFC 3339 or `"YYYY-MM-DD HH:MM:SS"` (UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match DateTime::parse_from_rfc3339(s) {
            Ok(instant) => Ok(Self(instant.with_timezone(&Utc))),
            Err(rfc3339_error) => match NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
                Ok(naive) => Ok(Self(naive.and_utc())),
                Err(_) => Err(rfc3339_error),
            },
        }
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with a `Z`, with fractional seconds only when there are any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp, \"YYYY-MM-DD HH:MM:SS\" or Unix seconds")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Timestamp, E> {
        value.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(value), &self))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Timestamp, E> {
        Timestamp::from_unix(secs).ok_or_else(|| E::invalid_value(de::Unexpected::Signed(secs), &self))
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Timestamp, E> {
        i64::try_from(secs)
            .ok()
            .and_then(Timestamp::from_unix)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(secs), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    fn read(json: &str) -> Result<Timestamp, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_rfc3339() -> Result<(), serde_json::Error> {
        let ts = read(r#""2019-05-15T15:20:30Z""#)?;
        assert_eq!(ts.timestamp(), 1_557_933_630);
        let offset = read(r#""2019-05-15T11:20:30-04:00""#)?;
        assert_eq!(offset, ts);
        let fractional = read(r#""2019-05-15T15:20:30.250Z""#)?;
        assert_eq!(fractional.timestamp_subsec_millis(), 250);
        assert_eq!(fractional.to_string(), "2019-05-15T15:20:30.250Z");
        Ok(())
    }

    #[test]
    fn reads_space_separated_utc() -> Result<(), serde_json::Error> {
        let ts = read(r#""2018-04-25 20:42:10""#)?;
        assert_eq!(ts, read(r#""2018-04-25T20:42:10Z""#)?);
        Ok(())
    }

    #[test]
    fn reads_unix_seconds() -> Result<(), serde_json::Error> {
        let ts = read("1524688930")?;
        assert_eq!(ts.to_string(), "2018-04-25T20:42:10Z");
        assert_eq!(Timestamp::from_unix(1_524_688_930), Some(ts));
        Ok(())
    }

    #[test]
    fn writes_rfc3339() -> Result<(), serde_json::Error> {
        let ts = read("1524688930")?;
        assert_eq!(serde_json::to_string(&ts)?, r#""2018-04-25T20:42:10Z""#);
        assert_eq!(read(&serde_json::to_string(&ts)?)?, ts);
        assert_eq!(format!("{ts:?}"), "Timestamp(2018-04-25T20:42:10Z)");
        Ok(())
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            r#""yesterday""#,
            r#""""#,
            r#""2018-04-25""#,
            r#""2018-13-45T99:00:00Z""#,
            "1.5",
            "true",
            "null",
            "{}",
            "-9223372036854775808",
            "18446744073709551615",
        ] {
            assert!(read(bad).is_err(), "{bad} should not parse");
        }
        assert!("not a date".parse::<Timestamp>().is_err());
    }
}
